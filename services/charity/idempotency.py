"""`Idempotency-Key` kept in the request's own transaction, for the hot path of money donations.

`shared.idempotency.idempotent` claims a key in a short transaction of its own, then completes it in the
request's: two transactions, two commits and two pooled connections per request. Here the key is read at
the start of the request's transaction and written, done, with its response at the end of it, so the key
commits or vanishes with the work it describes: one transaction, and nothing to release on failure.

What a caller sees is the same: the same key with the same body replays the first response (header
`Idempotent-Replayed: true`); with another body it is a 422. A retry that arrives while the first request
still runs does not get a 409 but waits, on PostgreSQL, on the unique (owner, key) index (and, for a
donation, on the unique (channel, channel_txn_id) before that) until the first commits, then replays it;
if the first rolled back, the retry does the work itself. On SQLite transactions are serialised anyway.

Keys live in the same `idempotency_keys` table as those of the shared mechanism (refunds, disbursements),
so a key is one key per caller whichever route used it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput
from shared.idempotency import HEADER, REPLAY_HEADER, _fingerprint
from shared.identity import Principal


def _answer(row, fingerprint: str, key: str) -> JSONResponse:
    if row.request_hash != fingerprint:
        raise InvalidInput(HEADER, "this key was already used with a different request; use a new key",
                           location="header")
    if row.state != "done":  # a claim of the shared mechanism, still running
        raise Conflict("a request with this Idempotency-Key is still being processed; retry shortly",
                       resource=f"idempotency-key:{key}", headers={"Retry-After": "1"})
    return JSONResponse(json.loads(row.response_body), status_code=row.status_code, headers={REPLAY_HEADER: "true"})


@functools.cache
def _statements(table: Table) -> tuple:
    """The read and the write of a key, built once per table."""
    read = (select(table.c.request_hash, table.c.state, table.c.status_code, table.c.response_body)
            .where(table.c.owner == bindparam("owner"), table.c.key == bindparam("key")))
    return read, insert(table)


async def _stored(session: AsyncSession, table: Table, owner: str, key: str):
    return (await session.execute(_statements(table)[0], {"owner": owner, "key": key})).first()


async def idempotent_in_transaction(
    request: Request,
    session: AsyncSession,
    table: Table,
    principal: Principal | None,
    payload: BaseModel | dict | None,
    create: Callable[[], Awaitable[BaseModel]],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """Run `create` once per (caller, Idempotency-Key), the key written in the request's transaction.

    `create` may roll the session back itself (it then answers from what a concurrent request committed);
    a `DomainError` it raises leaves no key behind, so a corrected retry may use the same key.
    """
    key = request.headers.get(HEADER)
    if key is None:
        result = await create()
        return JSONResponse(result.model_dump(mode="json"), status_code=status_code)
    if not 1 <= len(key) <= 255:
        raise InvalidInput(HEADER, "must be 1 to 255 characters", location="header")
    owner = principal.subject if principal else "anonymous"
    fingerprint = _fingerprint(request, payload)
    row = await _stored(session, table, owner, key)
    if row is not None:
        return _answer(row, fingerprint, key)
    result = await create()
    body = result.model_dump(mode="json")
    now = utcnow()
    try:
        await session.execute(_statements(table)[1], dict(
            owner=owner, key=key, request_hash=fingerprint, state="done", status_code=status_code,
            response_body=json.dumps(body, ensure_ascii=False), created_at=now, completed_at=now))
    except IntegrityError:
        # The same key committed by a concurrent request while we worked: ours is undone, theirs answers.
        await session.rollback()
        row = await _stored(session, table, owner, key)
        if row is None:
            raise
        return _answer(row, fingerprint, key)
    return JSONResponse(body, status_code=status_code)
