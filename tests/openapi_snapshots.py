"""A published part of an API pinned by a snapshot: its paths and every component schema they reach, so that a
change to what a partner or an app calls is a change someone made on purpose.

After an intended change, regenerate the snapshots and commit them: `UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m
pytest -q <the test>`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


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


def part_of(spec: dict, prefix: str, own_paths: tuple[str, ...]) -> dict:
    """The paths under `prefix` starting with one of `own_paths`, and every component schema they reach."""
    paths = {p: v for p, v in spec["paths"].items() if p.removeprefix(prefix).startswith(own_paths)}
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


def assert_described(part: dict) -> None:
    """Every operation has a summary and a description a reader can use."""
    for path, operations in part["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and len(operation.get("description", "")) > 20, (method, path)


def assert_matches_snapshot(part: dict, snapshot: Path, what: str) -> None:
    text = json.dumps(part, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT"):
        snapshot.write_text(text, encoding="utf-8")
    assert snapshot.exists(), "no snapshot yet: run with UPDATE_OPENAPI_SNAPSHOT=1 and commit it"
    assert text == snapshot.read_text(encoding="utf-8"), (
        f"{what} changed: if on purpose, run with UPDATE_OPENAPI_SNAPSHOT=1 and commit the snapshot"
    )
