"""Cursor pagination with a bounded limit: stable under inserts, cheap on large tables."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from shared.errors import InvalidInput

MAX_LIMIT = 100
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last page")


class PageParams(BaseModel):
    limit: int
    after: Any | None  # the sort key of the last item already seen


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor", "not a cursor returned by this API", location="query") from None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1–{MAX_LIMIT})")] = 20,
    cursor: Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


def page_of(rows: list[T], params: PageParams, key) -> Page[T]:
    """Rows fetched with `limit + 1`: the extra row only tells that there is a next page."""
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    return Page(items=rows, next_cursor=encode_cursor(key(rows[-1])) if has_more and rows else None)
