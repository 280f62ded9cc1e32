from shared.scopes import scope

POLICIES_READ = scope("assistance.policies:read", "Read policy parameters and their versions",
                      "staff", "city_staff", "auditor", "partner")
POLICIES_WRITE = scope("assistance.policies:write", "Add a policy parameter version (city bureau)", "city_staff")
HOUSEHOLDS_READ = scope("assistance.households:read", "Read households, members, incomes and assets in one's area "
                        "(personal data; ID numbers masked)", "staff", "auditor")
HOUSEHOLDS_WRITE = scope("assistance.households:write", "Record households, members, incomes and assets in one's "
                         "area", "staff")
STATUS_READ = scope("assistance.status:read", "Look up a person's current assistance programmes by ID number "
                    "(for other services, e.g. eldercare meal prices)", "service", "staff")
ELIGIBILITY_CHECK = scope("assistance.eligibility:check", "Run eligibility checks (households in one's area or "
                          "given inline)", "staff")
