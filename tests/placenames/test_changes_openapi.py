"""The change feed as partner departments and the services read it (docs/changes.md): described, and its shape
pinned by a snapshot, so a change to the contract is a change someone made on purpose.

After an intended change, regenerate the snapshot and commit it:
    UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/placenames/test_changes_openapi.py
"""

from pathlib import Path

from services.placenames.main import create_app
from services.placenames.settings import PlacenamesSettings
from tests.openapi_snapshots import assert_described, assert_matches_snapshot, part_of

SNAPSHOT = Path(__file__).parent / "snapshots" / "change_feed_openapi.json"


def test_the_change_feed_is_described_and_matches_the_snapshot():
    part = part_of(create_app(PlacenamesSettings(env="test")).openapi(), "/api/placenames/v1", ("/changes",))
    assert list(part["paths"]) == ["/api/placenames/v1/changes"]
    assert_described(part)
    parameters = part["paths"]["/api/placenames/v1/changes"]["get"]["parameters"]
    assert all(p.get("description") for p in parameters)
    for schema in ("FeedPage", "FeedChange", "FeedSuccessor"):
        assert all(field.get("description") for field in part["schemas"][schema]["properties"].values()), schema
    # The feed's own shapes; the suite's problem details (shared/errors.py) change with the suite, not with it.
    part["schemas"] = {name: schema for name, schema in part["schemas"].items() if name.startswith("Feed")}
    assert_matches_snapshot(part, SNAPSHOT, "the change feed's contract")
