"""The notification API as published: the in-app messages of every service (one shape), and the gateway's
preferences and contacts; every operation described, its shape pinned by a snapshot (tests/openapi_snapshots.py).

After an intended change, regenerate the snapshot and commit it:
    UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/notifications/test_openapi.py
"""

import json
from pathlib import Path

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from services.assistance.main import create_app as create_assistance
from services.assistance.settings import AssistanceSettings
from services.eldercare.main import create_app as create_eldercare
from services.eldercare.settings import EldercareSettings
from tests.openapi_snapshots import assert_described, assert_matches_snapshot, part_of

SNAPSHOT = Path(__file__).parent / "snapshots" / "notifications_openapi.json"
# The suite's problem details change with the suite (their own tests pin them): referenced here, not pinned.
SHARED = ("Problem", "FieldProblem", "HTTPValidationError", "ValidationError")


def own(part: dict) -> dict:
    return {"paths": part["paths"], "schemas": {k: v for k, v in part["schemas"].items() if not k.startswith(SHARED)}}


def test_the_notification_api_is_described_one_shape_in_every_service_and_matches_the_snapshot():
    eldercare = own(
        part_of(create_eldercare(EldercareSettings(env="test")).openapi(), "/api/eldercare/v1", ("/messages",))
    )
    assistance = own(
        part_of(create_assistance(AssistanceSettings(env="test")).openapi(), "/api/assistance/v1", ("/messages",))
    )
    gateway = own(
        part_of(
            create_gateway(GatewaySettings(env="test")).local_app.openapi(),
            "/api/notifications/v1",
            ("/preferences", "/contacts"),
        )
    )
    # The same routes and schemas in each service: one shared implementation.
    as_eldercare = json.loads(
        json.dumps(assistance)
        .replace("/api/assistance/", "/api/eldercare/")
        .replace("_api_assistance_", "_api_eldercare_")
        .replace("from assistance", "from eldercare")
    )
    assert as_eldercare == eldercare
    assert len(eldercare["paths"]) == 2 and len(gateway["paths"]) == 2
    assert_described(eldercare)
    assert_described(gateway)
    assert_matches_snapshot({"messages": eldercare, "gateway": gateway}, SNAPSHOT, "the notification API")
