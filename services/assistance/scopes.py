from shared.scopes import scope

POLICIES_READ = scope("assistance.policies:read", "Read policy parameters and their versions",
                      "staff", "city_staff", "auditor", "partner")
POLICIES_WRITE = scope("assistance.policies:write", "Add a policy parameter version (city bureau)", "city_staff")
