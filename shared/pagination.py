"""Cursor pagination with a bounded limit: stable under inserts, cheap on large tables.

A cursor is the sort key of the last item seen, signed by the service and bound to the endpoint that
issued it: a forged or edited cursor, or one from another endpoint, is a 422, so the queries only ever
see keys of the shape they produced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple

from fastapi import Query, Request
from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import QueryableAttribute

from shared.errors import InvalidInput
from shared.schemas import Schema

MAX_LIMIT = 100
T = TypeVar("T")
Columns = TypeVarTuple("Columns")


class Page(Schema, Generic[T]):
    """One page of a list, in a stable order, and the cursor of the next page."""

    items: list[T] = Field(description="The items of this page")
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last page")


class PageParams(Schema):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    limit: int
    after: Any | None = None  # the sort key of the last item already seen
    scope: str = ""  # the endpoint the cursor belongs to
    signing_key: bytes = Field(b"", repr=False)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, scope: str, payload: bytes) -> bytes:
    return hmac.new(key, scope.encode() + b"\x00" + payload, hashlib.sha256).digest()[:16]


def encode_cursor(key: Any, *, signing_key: bytes, scope: str) -> str:
    payload = json.dumps(key, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(signing_key, scope, payload))}"


def decode_cursor(cursor: str, *, signing_key: bytes, scope: str) -> Any:
    refused = InvalidInput("cursor", "not a cursor this endpoint returned", location="query")
    try:
        payload_text, mac_text = cursor.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        raise refused from None
    if not hmac.compare_digest(mac, _mac(signing_key, scope, payload)):
        raise refused
    return json.loads(payload)


async def page_params(  # async: a plain `def` dependency would run in a worker thread on every list call
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1–{MAX_LIMIT})")] = 20,
    cursor: Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    signing_key = request.app.state.settings.identity_secret.encode()
    scope = request.url.path
    after = decode_cursor(cursor, signing_key=signing_key, scope=scope) if cursor else None
    return PageParams(limit=limit, after=after, scope=scope, signing_key=signing_key)


Cast = Callable[[Any], Any]
Column = ColumnElement[Any] | QueryableAttribute[Any]


def keyset(
    query: Select[*Columns],
    column: Column | tuple[Column, Column],
    page: PageParams,
    *,
    cast: Cast | tuple[Cast, Cast] = int,
    descending: bool = False,
) -> Select[*Columns]:
    """`query` ordered by the unique `column`, from just after the page's cursor, one row more than the page.

    Fetch it and pass the rows to `page_of`: the extra row only tells that there is a next page. `cast`
    turns the cursor's key back into the column's type (the key was signed, so it has the shape we issued).
    `descending`: largest first (newest first, for an id), each page going on below the cursor.

    `column` may also be a pair, `(sort_column, unique_column)`, for an order that one column cannot make unique
    (a day, then the id): the cursor's key is then the pair, and `cast` a pair of functions, one for each.
    """
    if isinstance(column, tuple):
        assert isinstance(cast, tuple), "a pair of columns takes a pair of casts"
        return _keyset_pair(query, column, page, cast, descending)
    assert not isinstance(cast, tuple), "one column takes one cast"
    query = query.order_by(column.desc() if descending else column).limit(page.limit + 1)
    if page.after is not None:
        after = cast(page.after)
        query = query.where(column < after if descending else column > after)
    return query


def _keyset_pair(
    query: Select[*Columns],
    columns: tuple[Column, Column],
    page: PageParams,
    casts: tuple[Cast, Cast],
    descending: bool,
) -> Select[*Columns]:
    query = query.order_by(*(c.desc() if descending else c for c in columns)).limit(page.limit + 1)
    if page.after is not None:
        # Typed as their columns, so that each value is bound as its column binds it (a UTC instant on SQLite).
        values = zip(casts, page.after, columns, strict=True)
        after = tuple_(*(literal(cast(value), c.type) for cast, value, c in values))
        query = query.where(tuple_(*columns) < after if descending else tuple_(*columns) > after)
    return query


def page_of(rows: list[T], params: PageParams, key: Callable[[T], Any]) -> Page[T]:
    """Rows fetched with `limit + 1`: the extra row only tells that there is a next page."""
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = (
        encode_cursor(key(rows[-1]), signing_key=params.signing_key, scope=params.scope) if has_more and rows else None
    )
    return Page(items=rows, next_cursor=next_cursor)
