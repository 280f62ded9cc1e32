# Divisions, names and addresses are public to read. Writing them and the heavier tools need a scope.
from shared.scopes import scope

NAMES_WRITE = scope(
    "placenames.names:write",
    "Record standard place names and their naming, renaming, "
    "unification, retirement and rectification decisions (staff: their area)",
    "staff",
    "city_staff",
)
ADDRESSES_WRITE = scope(
    "placenames.addresses:write",
    "Issue, split, merge and retire standard addresses and door plates (staff: their area)",
    "staff",
    "city_staff",
)
PARSE = scope(
    "placenames.parse:use",
    "Parse and match free-text addresses, one or in batches",
    "staff",
    "city_staff",
    "partner",
    "service",
    "auditor",
)
JOBS_READ = scope(
    "placenames.jobs:read",
    "Follow placenames' background jobs (batch standardisations): status, progress and the last error",
    "city_staff",
    "auditor",
)
JOBS_WRITE = scope("placenames.jobs:write", "Cancel one of placenames' background jobs", "city_staff")
CHANGES_READ = scope(
    "placenames.changes:read",
    "Follow the change feed of standard addresses, names, door plates and divisions (地名地址变更): the services "
    "that store addresses and the partner departments (一址通)",
    "city_staff",
    "auditor",
    "partner",
    "service",
)
