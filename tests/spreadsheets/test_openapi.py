"""The spreadsheet import and export API as published in each service: every operation described, and its shape
pinned by a snapshot, so a change to what staff tools call is a change someone made on purpose.

After an intended change, regenerate the snapshots and commit them:
    UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/spreadsheets/test_openapi.py
"""

import importlib
from pathlib import Path

import pytest

from tests.openapi_snapshots import assert_described, assert_matches_snapshot, part_of

SNAPSHOTS = Path(__file__).parent / "snapshots"
OWN_PATHS = ("/spreadsheet-imports", "/spreadsheet-exports")


@pytest.mark.parametrize(("service", "operations"), [("eldercare", 5), ("assistance", 5), ("charity", 3)])
def test_every_spreadsheet_operation_is_described_and_matches_the_snapshot(service, operations):
    settings = getattr(importlib.import_module(f"services.{service}.settings"), f"{service.capitalize()}Settings")
    app = importlib.import_module(f"services.{service}.main").create_app(settings(env="test"))
    part = part_of(app.openapi(), f"/api/{service}/v1", OWN_PATHS)
    assert sum(len(operations) for operations in part["paths"].values()) == operations
    assert_described(part)
    assert_matches_snapshot(part, SNAPSHOTS / f"{service}_spreadsheets_openapi.json", f"{service}'s spreadsheet API")
