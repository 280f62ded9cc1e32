import importlib

from services import SERVICES
from shared.scopes import scope

# Administering who may do what. Whoever holds these may still grant only the scopes they hold themselves,
# and staff areas only within their own (gateway.auth.grants).
CLIENTS_WRITE = scope(
    "auth.clients:write",
    "Register, re-scope, rotate and revoke partner and service clients (city bureau)",
    "city_staff",
)
STAFF_WRITE = scope(
    "auth.staff:write",
    "Create staff accounts and change their role or area, within one's own scopes and area (city bureau)",
    "city_staff",
)
GRANTS_READ = scope("auth.grants:read", "Read the audit of rights granted: clients and staff accounts", "auditor")

# Personal-data requests (PIPL arts. 44–47): the register is the gateway's (gateway/privacy).
PRIVACY_DATA_READ = scope(
    "privacy.data:read",
    "Get a copy of what the suite holds about oneself and the people one acts for (PIPL art. 45)",
    "resident",
)
PRIVACY_REQUESTS_WRITE = scope(
    "privacy.requests:write",
    "Ask for a correction or a deletion of one's personal data, and follow one's requests (PIPL arts. 46–47)",
    "resident",
)
PRIVACY_REQUESTS_ANSWER = scope(
    "privacy.requests:answer",
    "Answer residents' personal-data requests (the bureau's personal information protection officer, PIPL art. 52)",
    "city_staff",
)
PRIVACY_REQUESTS_READ = scope("privacy.requests:read", "Read the register of personal-data requests", "auditor")


def load_all() -> None:
    """Import every service's scope declarations, so shared.scopes knows them all (idempotent)."""
    for name in SERVICES:
        importlib.import_module(f"services.{name}.scopes")


# The services' workers read their recipients' contacts (phone, WeChat openid, chosen channels, quiet hours) to send
# notifications (gateway/notifications).
CONTACTS_READ = scope(
    "notifications.contacts:read",
    "Read the notification contacts of people a service is notifying (the services' workers)",
    "service",
)
