# Divisions, names and addresses are public to read. Writing them and the heavier tools need a scope.
from shared.scopes import scope

NAMES_WRITE = scope("placenames.names:write", "Record standard place names and their naming, renaming, "
                    "unification, retirement and rectification decisions (staff: their area)", "staff", "city_staff")
ADDRESSES_WRITE = scope("placenames.addresses:write", "Issue, split, merge and retire standard addresses and door "
                        "plates (staff: their area)", "staff", "city_staff")
PARSE = scope("placenames.parse:use", "Parse and match free-text addresses, one or in batches",
              "staff", "city_staff", "partner", "service", "auditor")
