"""The notification API as published: the in-app messages of every service (one shape), and the gateway's
preferences and contacts; every operation described, its shape pinned by a snapshot.

After an intended change, regenerate the snapshot and commit it:
    UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/notifications/test_openapi.py
"""

import json
import os
from pathlib import Path

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from services.assistance.main import create_app as create_assistance
from services.assistance.settings import AssistanceSettings
from services.eldercare.main import create_app as create_eldercare
from services.eldercare.settings import EldercareSettings
from tests.assistance.test_online_openapi import referenced

SNAPSHOT = Path(__file__).parent / "snapshots" / "notifications_openapi.json"


def part(spec: dict, prefix: str) -> dict:
    """The paths under `prefix` and every component schema they reach."""
    paths = {p: v for p, v in spec["paths"].items() if p.startswith(prefix)}
    names: set[str] = set()
    referenced(paths, names)
    schemas = spec["components"]["schemas"]
    while True:
        more: set[str] = set()
        for name in names:
            referenced(schemas[name], more)
        if more <= names:
            break
        names |= more
    return {"paths": paths, "schemas": {n: schemas[n] for n in sorted(names)}}


def test_the_notification_api_is_described_one_shape_in_every_service_and_matches_the_snapshot():
    eldercare = part(create_eldercare(EldercareSettings(env="test")).openapi(), "/api/eldercare/v1/messages")
    assistance = part(create_assistance(AssistanceSettings(env="test")).openapi(), "/api/assistance/v1/messages")
    gateway = part(create_gateway(GatewaySettings(env="test")).local_app.openapi(), "/api/notifications/v1")
    # The same routes and schemas in each service: one shared implementation.
    as_eldercare = json.loads(
        json.dumps(assistance)
        .replace("/api/assistance/", "/api/eldercare/")
        .replace("_api_assistance_", "_api_eldercare_")
        .replace("from assistance", "from eldercare")
    )
    assert as_eldercare == eldercare
    assert len(eldercare["paths"]) == 2 and len(gateway["paths"]) == 2
    for document in (eldercare, gateway):
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                assert operation.get("summary") and len(operation.get("description", "")) > 20, (method, path)
    text = json.dumps({"messages": eldercare, "gateway": gateway}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_OPENAPI_SNAPSHOT=1 and commit it"
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "the notification API changed: if on purpose, run with UPDATE_OPENAPI_SNAPSHOT=1 and commit the snapshot"
    )
