"""The bounds a workbook is read within, beside the text runs' (test_text_runs.py)."""

from __future__ import annotations

from shared import schemas, spreadsheets


def test_the_integer_bound_is_the_schemas_one():
    # One constant for what an INTEGER column holds: the routes' 422 (shared.schemas, shared.errors) and an import's
    # "too large" problem move together if it ever changes.
    assert spreadsheets.MAX_INTEGER is schemas.MAX_INTEGER
