"""The online application API as published: every operation described, and its shape pinned by a snapshot, so a
change to what the mini-program calls is a change someone made on purpose.

After an intended change, regenerate the snapshot and commit it:
    UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/assistance/test_online_openapi.py
"""

import json
import os
from pathlib import Path

from services.assistance.main import create_app
from services.assistance.settings import AssistanceSettings

SNAPSHOT = Path(__file__).parent / "snapshots" / "online_applications_openapi.json"
PREFIX = "/api/assistance/v1"
OWN_PATHS = ("/declared-households", "/online-applications", "/applications/{application_id}/material")


def referenced(node, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            referenced(value, found)


def online_part(spec: dict) -> dict:
    """The paths of online applications and every component schema they reach."""
    paths = {p: v for p, v in spec["paths"].items() if p.removeprefix(PREFIX).startswith(OWN_PATHS)}
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


def test_every_online_application_operation_is_described_and_matches_the_snapshot():
    part = online_part(create_app(AssistanceSettings(env="test")).openapi())
    assert len(part["paths"]) == 12
    for path, operations in part["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and len(operation.get("description", "")) > 20, (method, path)
    text = json.dumps(part, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_OPENAPI_SNAPSHOT=1 and commit it"
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "the online application API changed: if on purpose, run with UPDATE_OPENAPI_SNAPSHOT=1 and commit the snapshot"
    )
