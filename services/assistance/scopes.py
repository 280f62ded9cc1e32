from shared.scopes import scope

POLICIES_READ = scope(
    "assistance.policies:read", "Read policy parameters and their versions", "staff", "city_staff", "auditor", "partner"
)
POLICIES_WRITE = scope("assistance.policies:write", "Add a policy parameter version (city bureau)", "city_staff")
HOUSEHOLDS_READ = scope(
    "assistance.households:read",
    "Read households, members, incomes and assets in one's area (personal data; ID numbers masked)",
    "staff",
    "auditor",
)
HOUSEHOLDS_WRITE = scope(
    "assistance.households:write", "Record households, members, incomes and assets in one's area", "staff"
)
STATUS_READ = scope(
    "assistance.status:read",
    "Look up a person's current assistance programmes by ID number (for other services, e.g. eldercare meal prices)",
    "service",
    "staff",
)
ELIGIBILITY_CHECK = scope(
    "assistance.eligibility:check", "Run eligibility checks (households in one's area or given inline)", "staff"
)
APPLICATIONS_READ = scope(
    "assistance.applications:read",
    "Read applications, their audit trail and the reviews due in one's area",
    "staff",
    "auditor",
)
APPLICATIONS_WRITE = scope(
    "assistance.applications:write",
    "Take steps in the review chain (受理, 入户调查, 初审, 公示, 审核确认) at one's own level and area",
    "staff",
)
ONLINE_APPLICATIONS_READ = scope(
    "assistance.online_applications:read",
    "Follow one's own online applications (网上申请): state, reasons, materials asked for and uploaded",
    "resident",
)
ONLINE_APPLICATIONS_WRITE = scope(
    "assistance.online_applications:write",
    "Declare one's household, apply online with consent to the partner checks, upload materials and answer requests "
    "for more",
    "resident",
)
SCREENINGS_RUN = scope(
    "assistance.screenings:run", "Start whole-city or area screenings and read their leads (数据找人)", "staff"
)
SIGNALS_WRITE = scope(
    "assistance.signals:write",
    "Send signals about people (large medical bill, job loss, disability record, disaster, housing change)",
    "partner",
)
CATALOGUE_WRITE = scope(
    "assistance.catalogue:write",
    "Add services to the assistance service catalogue and match "
    "them to households in one's area (救助服务目录, 物质+服务)",
    "staff",
)
CATALOGUE_READ = scope(
    "assistance.catalogue:read", "Read the service catalogue and the matches in one's area", "staff", "auditor"
)
INDICATORS_READ = scope(
    "assistance.indicators:read", "Read assistance indicators for one's area (驾驶舱)", "staff", "city_staff", "auditor"
)

LEADS_READ = scope(
    "assistance.leads:read",
    "Read the leads (数据找人 results and partner signals) of one's area and how they were closed",
    "staff",
    "auditor",
)
LEADS_WRITE = scope(
    "assistance.leads:write",
    "Close a lead of one's area after the visit: applied (with the "
    "application), not eligible, declined or duplicate, with the reason",
    "staff",
)

PII_READ = scope(
    "assistance.pii:read",
    "Read a member's ID number or an income's amounts in the clear, with a stated purpose (audited)",
    "staff",
)
# Auditors are staff-kind principals whose role maps to the "auditor" holder: they see the reads about people of
# their area; a partner given the scope (a supervising department) sees all.
PII_READS_READ = scope(
    "assistance.pii_reads:read",
    "Read the audit of personal data read in the clear and of status lookups by ID number",
    "auditor",
)

JOBS_READ = scope(
    "assistance.jobs:read",
    "Follow the assistance worker's jobs (screenings, reviews due): status, progress, errors",
    "city_staff",
    "auditor",
)
JOBS_WRITE = scope("assistance.jobs:write", "Cancel a job of the assistance worker", "city_staff")

# Held by no one: only the gateway mints them, for its register of personal-data requests (shared/subject_data.py).
SUBJECT_DATA_READ = scope(
    "assistance.subject_data:read", "Gateway only: list what assistance holds about a resident account (PIPL art. 45)"
)
SUBJECT_DATA_ERASE = scope(
    "assistance.subject_data:erase", "Gateway only: erase an erasable record of a resident account (PIPL art. 47)"
)
