"""The online application API as published: every operation described, and its shape pinned by a snapshot, so a
change to what the mini-program calls is a change someone made on purpose.

After an intended change, regenerate the snapshot and commit it:
    UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/assistance/test_online_openapi.py
"""

from pathlib import Path

from services.assistance.main import create_app
from services.assistance.settings import AssistanceSettings
from tests.openapi_snapshots import assert_described, assert_matches_snapshot, part_of

SNAPSHOT = Path(__file__).parent / "snapshots" / "online_applications_openapi.json"
PREFIX = "/api/assistance/v1"
OWN_PATHS = ("/declared-households", "/online-applications", "/applications/{application_id}/material")


def test_every_online_application_operation_is_described_and_matches_the_snapshot():
    part = part_of(create_app(AssistanceSettings(env="test")).openapi(), PREFIX, OWN_PATHS)
    assert len(part["paths"]) == 12
    assert_described(part)
    assert_matches_snapshot(part, SNAPSHOT, "the online application API")
