"""The API of personal-data requests as clients see it: the gateway's register (`/api/privacy/v1`) and the services'
service-to-service routes, every operation described, and the whole of it kept in a snapshot, so a change to it is
a reviewed change. After changing it on purpose: `UPDATE_OPENAPI_SNAPSHOT=1` and run this test, then commit the
snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from services.assistance.main import create_app as create_assistance
from services.charity.main import create_app as create_charity
from services.eldercare.main import create_app as create_eldercare

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi_privacy.json"
# The suite's problem shapes are shared by every route and pinned where they are made (shared/errors.py): here they
# are only referred to, so a change to them does not read as a change to this API.
SHARED_SCHEMAS = {"Problem", "FieldProblem", "HTTPValidationError", "ValidationError"}


def _referenced(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, found)


def privacy_api() -> dict:
    documents = [
        create_gateway(GatewaySettings(env="test")).local_app.openapi(),
        create_eldercare().openapi(),
        create_assistance().openapi(),
        create_charity().openapi(),
    ]
    paths, schemas = {}, {}
    for document in documents:
        for path, operations in document["paths"].items():
            if path.startswith("/api/privacy/") or path.endswith(("/subject-data-searches", "/subject-data-erasures")):
                paths[path] = operations
        schemas |= document.get("components", {}).get("schemas", {})
    names: set[str] = set()
    _referenced(paths, names)
    while True:  # schemas referenced by the schemas found, until none is new
        more: set[str] = set()
        _referenced([schemas[n] for n in names], more)
        if more <= names:
            break
        names |= more
    return {"paths": paths, "schemas": {n: schemas[n] for n in sorted(names - SHARED_SCHEMAS)}}


def test_every_privacy_operation_is_described():
    api = privacy_api()
    assert len(api["paths"]) == 10, sorted(api["paths"])
    for path, operations in api["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and len(operation.get("description", "")) > 80, (method, path)


def test_the_privacy_api_matches_its_snapshot():
    api = json.dumps(privacy_api(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT"):
        SNAPSHOT.write_text(api, encoding="utf-8")
    assert api == SNAPSHOT.read_text(encoding="utf-8"), (
        "the personal-data API changed: if on purpose, run UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest "
        f"{Path(__file__).relative_to(Path.cwd()) if Path(__file__).is_relative_to(Path.cwd()) else __file__} and "
        "commit the snapshot"
    )
