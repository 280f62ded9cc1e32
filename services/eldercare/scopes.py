from shared.scopes import scope

ELDERS_READ = scope(
    "eldercare.elders:read",
    "Read older people's profiles (staff: their area; residents: themselves and those they care for)",
    "resident",
    "staff",
    "auditor",
)
ELDERS_WRITE = scope("eldercare.elders:write", "Register older people in one's area", "staff")

CANTEENS_READ = scope(
    "eldercare.canteens:read",
    "Browse canteens, their menus and the meal subsidy rates",
    "resident",
    "staff",
    "auditor",
    "partner",
)
CANTEENS_WRITE = scope("eldercare.canteens:write", "Register canteens and publish menus in one's area", "staff")
MEAL_SUBSIDIES_WRITE = scope(
    "eldercare.meal_subsidies:write", "Add a dated meal subsidy rate (city bureau)", "city_staff"
)
MEAL_ORDERS_READ = scope(
    "eldercare.meal_orders:read",
    "Read meal orders (staff: their area; residents: the people they care for)",
    "resident",
    "staff",
    "auditor",
)
MEAL_ORDERS_WRITE = scope(
    "eldercare.meal_orders:write", "Order and cancel meals for a person one may act for", "resident", "staff"
)

MEAL_STATEMENTS_READ = scope(
    "eldercare.meal_statements:read",
    "Read canteens' monthly meal settlement statements (结算单) and export them (staff: canteens of their area)",
    "staff",
    "auditor",
)
MEAL_STATEMENTS_WRITE = scope(
    "eldercare.meal_statements:write",
    "Produce a canteen's monthly settlement statement and record refunds of served meals in one's area",
    "staff",
)
MEAL_STATEMENTS_APPROVE = scope(
    "eldercare.meal_statements:approve",
    "Approve (and so lock) the settlement statements of the canteens of one's district (district staff only)",
    "staff",
)

BEDS_READ = scope(
    "eldercare.beds:read",
    "Browse institutions and beds and their availability",
    "resident",
    "staff",
    "auditor",
    "partner",
)
BEDS_WRITE = scope(
    "eldercare.beds:write",
    "Register institutions and beds in one's area; confirm holds, admit, discharge, settle the waitlist",
    "staff",
)
BED_HOLDS_WRITE = scope(
    "eldercare.bed_holds:write",
    "Hold or release a bed and join the waitlist for a person one may act for",
    "resident",
    "staff",
)
ADMISSIONS_READ = scope(
    "eldercare.admissions:read",
    "Read bed holds, admissions and waitlist entries of the people "
    "one may see (staff: also those at institutions in their area)",
    "resident",
    "staff",
    "auditor",
)

HOMECARE_READ = scope(
    "eldercare.homecare:read",
    "Browse the home-visit catalogue, providers and caregivers",
    "resident",
    "staff",
    "auditor",
    "partner",
)
HOMECARE_WRITE = scope(
    "eldercare.homecare:write", "Keep the catalogue (city), providers and caregivers (own area)", "staff"
)
VISITS_READ = scope(
    "eldercare.visits:read", "Read home visits of the people one may see", "resident", "staff", "auditor"
)
VISITS_WRITE = scope(
    "eldercare.visits:write", "Order, cancel and rate home visits for a person one may act for", "resident", "staff"
)
VISITS_OPERATE = scope(
    "eldercare.visits:operate",
    "Schedule visits, check caregivers in and out, run the missed-visit job and correct visit records (audited)",
    "staff",
)
VISITS_ATTEND = scope(
    "eldercare.visits:attend",
    "Caregiver app: see, check in and check out of home visits; only "
    "ever the visits assigned to the caregiver whose record the caller's account is paired to (by "
    "a one-time code from the provider's staff), never anyone else's",
    "resident",
)
SUBSIDIES_READ = scope(
    "eldercare.subsidies:read", "Read home-care subsidy accounts and their ledger", "resident", "staff", "auditor"
)
SUBSIDIES_WRITE = scope(
    "eldercare.subsidies:write",
    "Open subsidy accounts, grant monthly allowances and adjust balances in one's area",
    "staff",
)
ALLOWANCE_RATES_WRITE = scope(
    "eldercare.allowance_rates:write", "Add a dated home-care allowance rate (city bureau)", "city_staff"
)

ASSESSMENTS_READ = scope(
    "eldercare.assessments:read",
    "Read capability assessments of the people one may see",
    "resident",
    "staff",
    "auditor",
)
ASSESSMENTS_WRITE = scope("eldercare.assessments:write", "Record capability assessments in one's area", "staff")

FAMILY_BEDS_READ = scope(
    "eldercare.family_beds:read", "Read family care beds of the people one may see", "resident", "staff", "auditor"
)
FAMILY_BEDS_WRITE = scope("eldercare.family_beds:write", "Set up and end family care beds in one's area", "staff")
CALLS_READ = scope(
    "eldercare.emergency_calls:read",
    "Read emergency calls (staff: their area; residents: the people they care for)",
    "resident",
    "staff",
    "auditor",
)
CALLS_RAISE = scope(
    "eldercare.emergency_calls:raise", "Log an emergency call for a person one may act for", "resident", "staff"
)
CALLS_HANDLE = scope("eldercare.emergency_calls:handle", "Handle and close emergency calls in one's area", "staff")
INDICATORS_READ = scope(
    "eldercare.indicators:read",
    "Read the eldercare indicators against the plan's targets",
    "staff",
    "auditor",
    "partner",
)

PII_READ = scope(
    "eldercare.pii:read", "Read ID numbers and phones in the clear, with a stated purpose (audited)", "staff"
)
# Auditors are staff-kind principals whose role maps to the "auditor" holder: they see the reads about the
# people of their area; a partner given the scope (a supervising department) sees all.
PII_READS_READ = scope("eldercare.pii_reads:read", "Read the audit of personal data read in the clear", "auditor")

CARE_LINKS_REQUEST = scope(
    "eldercare.care_links:request", "Ask to act for an older person (verified by staff)", "resident"
)
CARE_LINKS_READ = scope(
    "eldercare.care_links:read",
    "Read care link requests (residents: their own; staff: about people of their area)",
    "resident",
    "staff",
    "auditor",
)
CARE_LINKS_DECIDE = scope(
    "eldercare.care_links:decide", "Approve or reject care link requests and end care links in one's area", "staff"
)

# Held by no one: only the gateway mints them, for its register of personal-data requests (shared/subject_data.py).
SUBJECT_DATA_READ = scope(
    "eldercare.subject_data:read", "Gateway only: list what eldercare holds about a resident account (PIPL art. 45)"
)
SUBJECT_DATA_ERASE = scope(
    "eldercare.subject_data:erase", "Gateway only: erase an erasable record of a resident account (PIPL art. 47)"
)

OVERRIDES_WRITE = scope(
    "eldercare.overrides:write",
    "Override a conflict where the domain allows it (an emergency "
    "admission over another person's bed hold, a caregiver from outside the person's area), "
    "with a stated reason (audited)",
    "staff",
)
OVERRIDES_READ = scope("eldercare.overrides:read", "Read the audit of overridden conflicts", "auditor")

JOBS_READ = scope(
    "eldercare.jobs:read",
    "Follow eldercare's background jobs (waitlist offers passed on, missed "
    "visits, the monthly allowances): status, progress and the last error",
    "city_staff",
    "auditor",
)
JOBS_WRITE = scope("eldercare.jobs:write", "Cancel one of eldercare's background jobs", "city_staff")
