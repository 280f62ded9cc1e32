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


def load_all() -> None:
    """Import every service's scope declarations, so shared.scopes knows them all (idempotent)."""
    for name in SERVICES:
        importlib.import_module(f"services.{name}.scopes")
