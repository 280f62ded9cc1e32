from shared.scopes import scope

ORGANIZATIONS_WRITE = scope("charity.organizations:write", "Register organisations and grant qualifications", "staff")
PROJECTS_READ = scope(
    "charity.projects:read",
    "Read charity projects of one's area, drafts included, and the list of overdue disclosures",
    "staff",
    "auditor",
)
PROJECTS_WRITE = scope(
    "charity.projects:write",
    "Create charity projects, record their filing (备案), move them through their lifecycle and publish disclosures",
    "staff",
)
DONATIONS_READ = scope(
    "charity.donations:read", "Read donations, refunds and disbursements of one's area", "staff", "auditor"
)
DONATIONS_WRITE = scope(
    "charity.donations:write", "Record money donations reported by a payment channel", "staff", "partner", "service"
)
FUNDS_WRITE = scope("charity.funds:write", "Refund donations and disburse project funds", "staff")
LEDGER_READ = scope("charity.ledger:read", "Read ledger accounts and entries; run reconciliations", "staff", "auditor")
RECEIPTS_WRITE = scope(
    "charity.receipts:write", "Issue donation receipts, record declined ones and void receipts (作废)", "staff"
)
CAMPAIGNS_READ = scope(
    "charity.campaigns:read", "Read one-day donation campaigns, their units and participation", "staff", "auditor"
)
CAMPAIGNS_WRITE = scope(
    "charity.campaigns:write", "Run one-day donation campaigns (慈善一日捐) and enrol units", "staff"
)
CAMPAIGNS_UPLOAD = scope("charity.campaigns:upload", "Upload a unit's payroll donation batch", "staff", "partner")
INKIND_READ = scope("charity.inkind:read", "Read the register of non-cash gifts of one's area", "staff", "auditor")
INKIND_WRITE = scope(
    "charity.inkind:write", "Record non-cash gifts, their use and disposal, and their receipts", "staff"
)
TRUSTS_READ = scope("charity.trusts:read", "Read trusts' overdue yearly reports of one's area", "staff", "auditor")
TRUSTS_WRITE = scope(
    "charity.trusts:write",
    "File charity trusts and their yearly reports; register community "
    "funds and state districts' numbers of communities",
    "staff",
)
NEEDS_WRITE = scope("charity.needs:write", "Publish community needs (慈善需求)", "staff")
OFFERS_WRITE = scope(
    "charity.offers:write",
    "Offer resources and see one's offers (staff: those of their area)",
    "resident",
    "partner",
    "staff",
)
MATCHES_WRITE = scope("charity.matches:write", "See proposed matches, confirm them and record deliveries", "staff")
PII_READ = scope("charity.pii:read", "Read a donor's phone in the clear, with a stated purpose (audited)", "staff")
PII_READS_READ = scope("charity.pii_reads:read", "Read the audit of personal data read in the clear", "auditor")
JOBS_READ = scope(
    "charity.jobs:read",
    "Follow charity's background jobs (the nightly reconciliation): status, progress and the last error",
    "city_staff",
    "auditor",
)
JOBS_WRITE = scope("charity.jobs:write", "Cancel one of charity's background jobs", "city_staff")

# Held by no one: only the gateway mints them, for its register of personal-data requests (shared/subject_data.py).
SUBJECT_DATA_READ = scope(
    "charity.subject_data:read", "Gateway only: list what charity holds about a resident account (PIPL art. 45)"
)
SUBJECT_DATA_ERASE = scope(
    "charity.subject_data:erase", "Gateway only: erase an erasable record of a resident account (PIPL art. 47)"
)
