"""`Idempotency-Key` for POSTs that create things (orders, bookings, donations, applications).

The same key with the same body returns the first response; with another body it is a 422; while the
first request is still running it is a 409. The key is claimed in its own short transaction (so a
concurrent retry sees it at once) and completed in the request's transaction (so the stored response
commits together with the work it describes). A claim whose request then fails to commit, or is cancelled, is
released at once; one abandoned by a crashed process may be taken over after `STALE_AFTER`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, cast

from fastapi import Header, Request
from sqlalchemy import (
    Column,
    Executable,
    Integer,
    MetaData,
    ScalarSelect,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from shared import direct
from shared.db import UTCDateTime, conflict_insert, database_of, undo_unless_committed, utcnow
from shared.direct import Link
from shared.errors import Conflict, DomainError, InvalidInput
from shared.identity import Principal
from shared.metrics import count_event
from shared.schemas import Schema

HEADER = "Idempotency-Key"
STALE_AFTER = dt.timedelta(seconds=60)
REPLAY_HEADER = "Idempotent-Replayed"

# Declared on a route so the OpenAPI documents the header; `idempotent` reads it from the request.
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=255,
        description="Makes a retry safe: the same key and body return the first result (header "
        "`Idempotent-Replayed: true`); the same key with another body is a 422; while the first "
        "request still runs, a 409.",
    ),
]


def idempotency_table(metadata: MetaData) -> Table:
    """Each service keeps its keys in its own database, next to the rows they protect."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("owner", String(200), nullable=False),
        Column("key", String(255), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("status_code", Integer),
        Column("response_body", Text),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("completed_at", UTCDateTime()),
        UniqueConstraint("owner", "key"),
    )


def key_used(table: Table) -> ScalarSelect[int]:
    """Whether the caller's Idempotency-Key was claimed before, as a scalar subquery (the claim's id, or NULL) for a
    read made before the request's transaction; its parameters: `key_params`."""
    return (
        select(table.c.id).where(table.c.owner == bindparam("owner"), table.c.key == bindparam("key")).scalar_subquery()
    )


def key_params(principal: Principal, key: str) -> dict[str, str]:
    """The parameters of `key_used` for this caller's key."""
    return {"owner": principal.subject, "key": key}


def _fingerprint(request: Request, payload: Schema | dict[str, Any] | None) -> str:
    body = payload.model_dump(mode="json") if isinstance(payload, Schema) else payload
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _claim(request: Request, table: Table, owner: str, key: str, fingerprint: str) -> int | JSONResponse:
    """Claim the key in its own transaction; return the claim's id, or the stored response to replay."""
    sessionmaker = database_of(request).sessionmaker
    try:
        async with sessionmaker() as claim_session, claim_session.begin():
            result = await claim_session.execute(
                insert(table).values(
                    owner=owner, key=key, request_hash=fingerprint, state="in_flight", created_at=utcnow()
                )
            )
            claim_id: int = result.inserted_primary_key[0]
            return claim_id
    except IntegrityError:
        pass
    async with sessionmaker() as read_session, read_session.begin():
        return await _taken_key(direct.on(await read_session.connection()), table, owner, key, fingerprint)


@functools.cache
def _key_row(table: Table) -> Select[Any]:
    return select(table).where(table.c.owner == bindparam("p_owner"), table.c.key == bindparam("p_key"))


@functools.cache
def _take_over(table: Table) -> Update:
    return (
        update(table)
        .where(
            table.c.id == bindparam("p_claim"),
            table.c.state == "in_flight",
            table.c.created_at < bindparam("p_stale", type_=table.c.created_at.type),
        )
        .values(created_at=bindparam("p_now", type_=table.c.created_at.type))
    )


async def _taken_key(link: Link, table: Table, owner: str, key: str, fingerprint: str) -> int | JSONResponse:
    """A key someone claimed already: its stored response to replay, or its claim id when that claim was
    abandoned (taken over); else a 422 for another request under the key, or a 409 while it still runs."""
    row = await link.row(_key_row(table), {"p_owner": owner, "p_key": key})
    if row is not None:
        if row["request_hash"] != fingerprint:
            raise InvalidInput(
                HEADER, "this key was already used with a different request; use a new key", location="header"
            )
        if row["state"] == "done":
            return JSONResponse(
                json.loads(row["response_body"]), status_code=row["status_code"], headers={REPLAY_HEADER: "true"}
            )
        now = utcnow()
        if await link.run(_take_over(table), {"p_claim": row["id"], "p_stale": now - STALE_AFTER, "p_now": now}) == 1:
            taken_id: int = row["id"]
            return taken_id
    # No row: released by `idempotent` between our insert and this read, as good as still in flight.
    raise Conflict(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        resource=f"idempotency-key:{key}",
        headers={"Retry-After": "1"},
    )


async def _release(request: Request, table: Table, claim_id: int) -> None:
    async with database_of(request).sessionmaker() as session, session.begin():
        await session.execute(delete(table).where(table.c.id == claim_id))


async def idempotent(
    request: Request,
    session: AsyncSession,
    table: Table,
    principal: Principal | None,
    payload: Schema | dict[str, Any] | None,
    create: Callable[[], Awaitable[Schema]],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """Run `create` once per (caller, Idempotency-Key); without a key it simply runs."""
    key = _key_of(request)
    if key is None:
        return _answer(_encoded(await create()), status_code)
    owner = principal.subject if principal else "anonymous"
    claimed = await _claim(request, table, owner, key, _fingerprint(request, payload))
    if isinstance(claimed, JSONResponse):
        return claimed
    # The claim is committed already; the work commits with the request. Should that commit fail, or the request be
    # cancelled, the claim goes too, and the client's retry does the work instead of waiting for STALE_AFTER.
    undo_unless_committed(session, functools.partial(_release, request, table, claimed))
    try:
        result = await create()
    except Exception:
        # Nothing was written (a rule refused the work, a concurrent request won a unique key, the database refused
        # a value): the key is free for the retry, which gets the real answer, not "still being processed" until
        # the claim goes stale.
        await session.rollback()
        await _release(request, table, claimed)
        raise
    return await _complete(session, table, claimed, result, status_code)


# Built once per table (and dialect), run with bound values: building a statement per request cost more CPU
# than running it (a profile of charity's donations), and the ORM session adds nothing to these Core statements.
@functools.cache
def _claim_statement(table: Table, dialect: str) -> Executable:
    return (
        conflict_insert(table, dialect)
        .values(
            owner=bindparam("p_owner"),
            key=bindparam("p_key"),
            request_hash=bindparam("p_hash"),
            state="in_flight",
            created_at=bindparam("p_now", type_=table.c.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=["owner", "key"])
        .returning(table.c.id)
    )


@functools.cache
def _done_statement(table: Table) -> Update:
    return (
        update(table)
        .where(table.c.id == bindparam("p_claim"))
        .values(
            state="done",
            status_code=bindparam("p_status"),
            response_body=bindparam("p_body"),
            completed_at=bindparam("p_now", type_=table.c.completed_at.type),
        )
    )


def _encoded(result: Schema) -> str:
    """The response body, encoded once by pydantic (in Rust): the same JSON as `JSONResponse` of `model_dump(mode=
    "json")`, without building that dict and encoding it twice (once to store it, once to send it)."""
    return result.model_dump_json()


class _EncodedJSON(JSONResponse):
    """A JSON response of a body encoded already (`_encoded`)."""

    def render(self, content: Any) -> bytes:
        return cast(str, content).encode()


def _answer(body: str, status_code: int) -> JSONResponse:
    return _EncodedJSON(body, status_code=status_code)


def _key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is not None and not 1 <= len(key) <= 255:
        raise InvalidInput(HEADER, "must be 1 to 255 characters", location="header")
    return key


async def _complete(
    session: AsyncSession, table: Table, claimed: int, result: Schema, status_code: int
) -> JSONResponse:
    """Store the response under the claim, in the request's transaction, and answer it."""
    body = _encoded(result)
    # The connection is asked for here, not kept from the claim: `create` may have rolled back to recover from a
    # race (charity's duplicate channel transaction), which hands the session a new one.
    connection = await session.connection()
    await connection.execute(
        _done_statement(table),
        {
            "p_claim": claimed,
            "p_status": status_code,
            "p_body": body,
            "p_now": utcnow(),
        },
    )
    return _answer(body, status_code)


async def idempotent_in_transaction(
    request: Request,
    session: AsyncSession,
    table: Table,
    principal: Principal | None,
    payload: Schema | dict[str, Any] | None,
    create: Callable[[], Awaitable[Schema]],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """As `idempotent`, but the key is claimed inside the request's own transaction: one transaction per request
    instead of two (three when the work is refused).

    The claim is an `INSERT ... ON CONFLICT DO NOTHING` sent as the transaction's first statement, so call this
    before anything else is read or written in `session`, and do no slow work (a network call) in `create`:
    the claim's row stays locked until the commit. A concurrent request with the same key waits for that
    commit at its own insert, then replays the stored response (instead of the 409 "still being processed" of
    `idempotent`); when the work fails, the rollback takes the claim with it, so nothing has to be released
    and a crash leaves no claim behind.
    """
    key = _key_of(request)
    if key is None:
        return _answer(_encoded(await create()), status_code)
    owner = principal.subject if principal else "anonymous"
    fingerprint = _fingerprint(request, payload)
    connection = await session.connection()
    claim = _claim_statement(table, connection.dialect.name)
    claimed = (
        await connection.execute(claim, {"p_owner": owner, "p_key": key, "p_hash": fingerprint, "p_now": utcnow()})
    ).scalar()
    if claimed is None:
        # Done (replayed), or claimed in a transaction of its own by `idempotent` (another endpoint or an older
        # process) and taken over only once abandoned.
        taken = await _taken_key(direct.on(connection), table, owner, key, fingerprint)
        if isinstance(taken, JSONResponse):
            return taken
        claimed = taken
    try:
        result = await create()
    except DomainError:
        # Nothing of the work, nor the claim, may stay (even for an error that keeps its writes, as `idempotent`).
        await session.rollback()
        raise
    return await _complete(session, table, claimed, result, status_code)


async def idempotent_direct(
    request: Request,
    table: Table,
    principal: Principal | None,
    payload: Schema | dict[str, Any] | None,
    create: Callable[[Link], Awaitable[Schema]],
    *,
    status_code: int = 201,
    counted: tuple[str, str] | None = None,
) -> JSONResponse:
    """As `idempotent_in_transaction`, in a transaction of its own on a `shared.direct` link instead of the
    request's session: for a hot write whose statements are all Core (see shared/direct.py). `create` gets the
    link, and runs in the transaction after the claim; `counted` names the domain event (service, event) counted
    once the work commits (shared.metrics), never for a replay."""
    key = _key_of(request)
    database = database_of(request)
    async with direct.connect(database, transaction=True) as link:
        claimed = None
        if key is not None:
            owner = principal.subject if principal else "anonymous"
            fingerprint = _fingerprint(request, payload)
            claimed = await link.scalar(
                _claim_statement(table, link.dialect),
                {"p_owner": owner, "p_key": key, "p_hash": fingerprint, "p_now": utcnow()},
            )
            if claimed is None:
                taken = await _taken_key(link, table, owner, key, fingerprint)
                if isinstance(taken, JSONResponse):
                    return taken
                claimed = taken
        body = _encoded(await create(link))
        if claimed is not None:
            await link.run(
                _done_statement(table), {"p_claim": claimed, "p_status": status_code, "p_body": body, "p_now": utcnow()}
            )
    if counted is not None:
        count_event(*counted)
    return _answer(body, status_code)
