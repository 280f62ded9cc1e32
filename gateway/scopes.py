import importlib

from services import SERVICES
from shared.scopes import scope

CLIENTS_WRITE = scope("auth.clients:write", "Register, rotate and revoke partner and service clients (city bureau)",
                      "city_staff")


def load_all() -> None:
    """Import every service's scope declarations, so shared.scopes knows them all (idempotent)."""
    for name in SERVICES:
        importlib.import_module(f"services.{name}.scopes")
