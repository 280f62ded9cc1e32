"""Database kit: metadata conventions, UTC timestamps, the engine, and the per-request session.

The same code runs on PostgreSQL (asyncpg) and on SQLite (aiosqlite, the embedded default). On SQLite
every transaction is taken with BEGIN IMMEDIATE, so two requests never interleave their writes: the
rules that PostgreSQL holds with row locks and conditional updates hold there by serialisation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy import CheckConstraint, DateTime, Dialect, Executable, MetaData, Select, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.types import TypeDecorator

from shared import clock, direct
from shared.errors import DomainError, NotFound
from shared.schemas import MAX_INTEGER

if TYPE_CHECKING:
    from shared.identity import Principal

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def bounded(column: str, minimum: int | float, maximum: int | float) -> CheckConstraint:
    """The CHECK of a number's domain bound (its schema has the same one): `ck_<table>_<column>_bounded`.
    A NULL passes, as in every CHECK: a column that may be empty says so itself."""
    return CheckConstraint(f"{column} BETWEEN {minimum} AND {maximum}", name=f"{column}_bounded")


def new_metadata() -> MetaData:
    """The metadata of one service, with constraint names that migrations can rely on."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware instant, stored in UTC. SQLite keeps no zone, so it is attached on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass a timezone-aware value")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return clock.now()


Row = TypeVar("Row")


# What `session.get` takes beside the key; every other keyword of `get_or_404` fills the detail's placeholders.
_GET_OPTIONS = frozenset({"options", "populate_existing", "with_for_update", "identity_token", "execution_options"})


async def get_or_404(session: AsyncSession, model: type[Row], key: Any, detail: str, **keywords: Any) -> Row:
    """The row of `model` with the primary key `key`, or NotFound saying `detail`, a text of the catalogue with its
    placeholders filled from the other keywords (`"no project {project_id}", project_id=12`)."""
    options = {name: value for name, value in keywords.items() if name in _GET_OPTIONS}
    row = await session.get(model, key, **options)
    if row is None:
        raise NotFound(detail, **{name: value for name, value in keywords.items() if name not in _GET_OPTIONS})
    return row


async def one_or_404(session: AsyncSession, query: Select[*tuple[Any, ...]], detail: str, **params: Any) -> Any:
    """The one row `query` selects, or NotFound saying `detail` ("no lead {lead_id} that you may see", lead_id=12)."""
    row = await session.scalar(query)
    if row is None:
        raise NotFound(detail, **params)
    return row


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_sha256_hex(value: str | bytes | None) -> str | None:
    """`sha256_hex(x)` on SQLite: the lower-case hex SHA-256 of a text (as UTF-8) or blob, as PostgreSQL's
    `encode(sha256(convert_to(x, 'UTF8')), 'hex')` computes it; NULL stays NULL."""
    if value is None:
        return None
    return hashlib.sha256(value.encode() if isinstance(value, str) else bytes(value)).hexdigest()


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # the driver's own connection
        # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE and savepoints work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()
        # SQLite has no SHA-256: a statement that hashes in SQL on PostgreSQL calls this one on SQLite.
        dbapi_connection.create_function("sha256_hex", 1, sqlite_sha256_hex, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 20, **kwargs: Any) -> AsyncEngine:
    # Looked up on the module at each call, so that tracing (shared/tracing.py), which wraps it when a
    # process starts with an OTLP endpoint, sees every engine made after that.
    create_async_engine = sqlalchemy_asyncio.create_async_engine
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        _prepare_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip on every checkout, a large share of a simple request. A connection
    # that died with the database fails its first statement instead; that request answers 503 and the pool
    # drops all connections of that age at once (tests/resilience/test_database_outage.py).
    # No overflow: overflow connections are closed when they come back, so every burst opened (and prepared
    # its statements on) new ones; `pool_size` connections at most, kept open once made.
    if _on_loopback(url):
        # asyncpg tries TLS first by default (sslmode=prefer), building a TLS context per new connection, for a
        # database that is on this machine; a URL that names ssl or sslmode keeps its own choice.
        kwargs.setdefault("connect_args", {}).setdefault("ssl", False)
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_recycle=3600, **kwargs)


def _on_loopback(url: str) -> bool:
    parsed = make_url(url)
    return parsed.host in ("127.0.0.1", "localhost", "::1") and not {"ssl", "sslmode"} & set(parsed.query)


class Database:
    """An engine and its session factory: one per service process, kept on `app.state.database`."""

    def __init__(self, url: str, *, pool_size: int = 20, bind: AsyncEngine | AsyncConnection | None = None):
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size) if bind is None else None
        session_options: dict[str, Any] = {"expire_on_commit": False}
        if isinstance(bind, AsyncConnection):
            # Tests: every session joins the test's outer transaction through a savepoint.
            session_options["join_transaction_mode"] = "create_savepoint"
        self.sessionmaker = async_sessionmaker(bind or self.engine, **session_options)

    @property
    def dialect(self) -> str:
        return "sqlite" if is_sqlite(self.url) else "postgresql"

    async def ping(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()


def conflict_insert(table: Any, dialect: str) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` in `dialect`'s own form, which can say ON CONFLICT DO NOTHING / DO UPDATE.

    `dialect` is a dialect's name ("postgresql" or "sqlite"), as `Database.dialect` and `Dialect.name` give it.
    """
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


_UNDO = "undo_unless_committed"


def undo_unless_committed(session: AsyncSession, undo: Callable[[], Awaitable[None]]) -> None:
    """Have the request's session run `undo` when its transaction ends without a commit: after an error, a failed
    commit, or the request's cancellation (a client gone). For work a request did outside its own transaction that
    must not outlive it, such as an Idempotency-Key claimed in a transaction of its own: a claim left behind would
    answer the client's retry "still being processed" until it went stale."""
    session.info.setdefault(_UNDO, []).append(undo)


async def _undo(session: AsyncSession) -> None:
    undos: list[Callable[[], Awaitable[None]]] = session.info.pop(_UNDO, [])
    if undos:
        # In a task of its own: a cancelled request's task may be cancelled again at each await, and the undo must
        # still run to its end.
        await asyncio.shield(_run_undos(undos))


async def _run_undos(undos: list[Callable[[], Awaitable[None]]]) -> None:
    for undo in undos:
        try:
            await undo()
        except Exception:  # the undo's own database is down: the work it undoes will go stale instead
            logger.warning("could not undo a request's outside work", exc_info=True)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler returns, rolled back when it raises.

    Code below the router only flushes. The commit happens before the response is sent, so a failed
    commit is an error the client sees, never a success that was lost.
    """
    async with database_of(request).sessionmaker() as session:
        committed = False
        try:
            yield session
            await session.commit()
            committed = True
        except DomainError as error:
            if error.keep_writes:
                await session.commit()
                committed = True
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        finally:
            if committed:
                session.info.pop(_UNDO, None)
            else:
                await _undo(session)


Session = Annotated[AsyncSession, Depends(_request_session, scope="function")]
# A row's id in a path (`/jobs/{job_id}`): an id no INTEGER key holds is a 422, never a query.
RowId = Annotated[int, Path(ge=1, le=MAX_INTEGER)]


@asynccontextmanager
async def one_statement(database: Database) -> AsyncIterator[AsyncSession]:
    """A session for a single statement that needs no transaction around it (a read, an upsert).

    On PostgreSQL the statement runs in autocommit, so it costs one round trip instead of three (BEGIN, the
    statement, COMMIT); the pool sets the connection back when it is returned. On SQLite, or when the database is
    bound to a test's transaction, it runs in a short transaction of its own, as before.
    """
    if database.engine is None or database.dialect != "postgresql":
        async with database.sessionmaker() as session, session.begin():
            yield session
        return
    # Set on the connection, not through engine.execution_options(): a connection made by such an engine costs
    # more CPU to check out than the statement itself.
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            yield session


class PerCaller:
    """Statements built once per kind of caller and what they may see (a staff member's area, a resident's
    subject) and kept: building a statement of several joins costs more CPU than running it. Values that vary per
    request are named parameters, given when the statement runs."""

    def __init__(self, build: Callable[..., Select[*tuple[Any, ...]]], size: int = 1024):
        self._build, self._size = build, size
        self._statements: dict[tuple[Hashable, ...], Select[*tuple[Any, ...]]] = {}

    def __call__(self, principal: Principal, *variant: Hashable) -> Select[*tuple[Any, ...]]:
        key = (principal.kind, principal.area, principal.subject if principal.kind == "resident" else None, *variant)
        statement = self._statements.get(key)
        if statement is None:
            if len(self._statements) >= self._size:
                self._statements.clear()
            statement = self._statements[key] = self._build(principal, *variant)
        return statement


async def read_row(database: Database, statement: Executable, params: dict[str, Any]) -> dict[str, Any] | None:
    """The first row of a Core statement, as a dict keyed by its column labels, outside any transaction: on
    PostgreSQL one statement in autocommit, sent straight to the driver (shared.direct); on a hot path the ORM
    session's unit of work, the loading of entities and SQLAlchemy's execution cost more CPU than the statement
    (see docs/benchmarks/eldercare.md). Build the statement's columns with `Columns`."""
    async with direct.connect(database, transaction=False) as link:
        return await link.row(statement, params)


M = TypeVar("M")


class Columns(Generic[M]):
    """An ORM class's columns labelled `<prefix><attribute>` for a Core read (`read_row`), and the instance rebuilt
    from a row of it: detached, as one read through a session that was then closed, for far less CPU. `only` limits
    the attributes read (the others are expired: reading one raises, as with `load_only` on a detached instance)."""

    def __init__(self, model: type[M], prefix: str, only: tuple[str, ...] | None = None):
        mapper = inspect(model)
        attributes = [a for a in mapper.column_attrs if only is None or a.key in only]
        self.model, self.prefix = model, prefix
        self._manager = mapper.class_manager
        self.keys = tuple(a.key for a in attributes)
        self.columns = tuple(a.columns[0].label(prefix + a.key) for a in attributes)
        self._names = tuple(prefix + a.key for a in attributes)
        self._primary = prefix + mapper.primary_key[0].key

    def of(self, values: Mapping[str, Any]) -> M | None:
        """The instance in a row (`read_row`'s), or None when its primary key is NULL (an outer join that found
        nothing)."""
        if values[self._primary] is None:
            return None
        # As the ORM's own loading does: the values go straight into the instance's dict, with no attribute events;
        # then it is given its identity, as an instance read through a session that was closed (detached): added to
        # a session later, it is the row it came from, never a new one.
        instance: M = self._manager.new_instance()
        instance.__dict__.update(zip(self.keys, (values[name] for name in self._names), strict=True))
        make_transient_to_detached(instance)
        return instance
