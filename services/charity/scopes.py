from shared.scopes import scope

ORGANIZATIONS_WRITE = scope("charity.organizations:write", "Register organisations and grant qualifications",
                            "staff")
