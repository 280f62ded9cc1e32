from shared.scopes import scope

CLIENTS_WRITE = scope("auth.clients:write", "Register, rotate and revoke partner and service clients (city bureau)",
                      "city_staff")
