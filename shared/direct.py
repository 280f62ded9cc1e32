"""A hot path's statements sent straight to the driver: a write costs what its SQL costs.

SQLAlchemy's execution of a Core statement costs about 200 µs of CPU on top of the driver's own (an execution
context, a cursor and a result for each statement, a greenlet switch for each await) and checking a connection
out through `AsyncEngine.connect()` about 400 µs more; a meal order's few statements spent more there than in
asyncpg and PostgreSQL together (docs/benchmarks/eldercare.md). Here a Core statement is compiled once, by
SQLAlchemy, for the engine's dialect (`plan_of`), and on PostgreSQL it is sent as that SQL text on the pooled
asyncpg connection itself, which keeps the prepared statement per connection; the values go through the same
type processors SQLAlchemy applies (UTC instants, encrypted columns, JSON), and the driver's errors come back as
SQLAlchemy's (`IntegrityError`, `DBAPIError`), so the callers and the app's error handlers see what they saw.

The statements are still built with SQLAlchemy and still run through it where this path does not apply: on
SQLite, and when the database is bound to a test's outer transaction. `connect` gives the same `Link` either way.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
from sqlalchemy import Dialect, Executable, Float, Numeric, bindparam, insert, inspect
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import greenlet_spawn

if TYPE_CHECKING:
    from shared.db import Database

Processor = Callable[[Any], Any] | None

# Whoever wants to see the statements sent this way (tracing's spans, a test counting round trips): SQLAlchemy's
# engine events do not see them. Each is called with the SQL and wraps the statement's execution.
WATCHERS: list[Callable[[str], AbstractContextManager[Any]]] = []


@dataclass(frozen=True)
class _Plan:
    """A statement as the driver takes it: its SQL, where each positional value comes from, how each value and each
    column of a returned row is converted (None: as it is)."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]  # values bound into the statement when it was built (a literal `status = 'placed'`)
    binders: tuple[Processor, ...]
    keys: tuple[str, ...]
    readers: tuple[Processor, ...]


def _plan(statement: Executable, dialect: Dialect) -> _Plan:
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    binds = [compiled.binds[name] for name in names]
    if any(bind.expanding or bind.literal_execute for bind in binds):
        raise ValueError("a statement with an expanding IN or a literal-executed value is compiled per call")
    columns = list(getattr(statement, "exported_columns", ()))
    return _Plan(
        sql=compiled.string,
        names=names,
        fixed={name: bind.effective_value for name, bind in zip(names, binds, strict=True) if not bind.required},
        binders=tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds),
        keys=tuple(column.key for column in columns),
        readers=tuple(_reader(column.type, dialect) for column in columns),
    )


def _reader(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """The result processor SQLAlchemy would apply to a column of this type. Numbers' processors depend on the type
    the database reports (SQLAlchemy reads it from the cursor): a float column comes back as float8, a numeric one
    as numeric."""
    reported = 701 if isinstance(type_, Float) else 1700 if isinstance(type_, Numeric) else None
    processor: Processor = type_.dialect_impl(dialect).result_processor(dialect, reported)
    return processor


# A statement's plan per dialect, kept as long as the statement itself: the plans of statements built once live for
# the process, those built per kind of caller (shared.db.PerCaller) or per call go with them. A plan holds plain
# values and the types' processors, never the statement, so it does not keep its key alive.
_PLANS: weakref.WeakKeyDictionary[Executable, dict[str, _Plan]] = weakref.WeakKeyDictionary()


def plan_of(statement: Executable, dialect: Dialect) -> _Plan:
    """The statement compiled for `dialect`, once. Values that vary are named `bindparam`s; the statement must name
    its columns (an `insert` with explicit `values`, not one shaped by its first parameters)."""
    plans = _PLANS.get(statement)
    if plans is None:
        plans = _PLANS[statement] = {}
    plan = plans.get(dialect.name)
    if plan is None:
        plan = plans[dialect.name] = _plan(statement, dialect)
    return plan


class Link(Protocol):
    """One connection's statements, in a transaction or in autocommit (see `connect`)."""

    dialect: str  # "postgresql" or "sqlite"

    async def row(self, statement: Executable, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row, as a dict keyed by the statement's column keys, or None."""

    async def scalar(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row, as dicts."""

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """A statement's count of rows written (an UPDATE's or DELETE's rowcount)."""


class _SessionLink:
    """Through SQLAlchemy: SQLite, or a database bound to a test's transaction."""

    def __init__(self, connection: AsyncConnection):
        self.connection, self.dialect = connection, connection.dialect.name

    async def row(self, statement: Executable, params: Mapping[str, Any]) -> dict[str, Any] | None:
        first = (await self.connection.execute(statement, dict(params))).first()
        return None if first is None else dict(first._mapping)

    async def scalar(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        return (await self.connection.execute(statement, dict(params))).scalar()

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        result = await self.connection.execute(statement, dict(params))
        return [dict(row._mapping) for row in result]

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        result: CursorResult[Any] = await self.connection.execute(statement, dict(params))
        return result.rowcount


class _DriverLink:
    """Straight on asyncpg (PostgreSQL)."""

    dialect = "postgresql"

    def __init__(self, connection: asyncpg.Connection, dialect: Dialect):
        self.connection, self._dialect = connection, dialect

    def _arguments(self, plan: _Plan, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, binder in zip(plan.names, plan.binders, strict=True):
            value = params[name] if name in params else plan.fixed[name]
            values.append(value if binder is None or value is None else binder(value))
        return values

    def _record(self, plan: _Plan, record: asyncpg.Record) -> dict[str, Any]:
        if not plan.keys:  # a text() statement: no columns known beforehand, nothing to convert
            return dict(record.items())
        return {
            key: value if reader is None or value is None else reader(value)
            for key, reader, value in zip(plan.keys, plan.readers, record, strict=True)
        }

    async def _fetch(self, statement: Executable, params: Mapping[str, Any]) -> tuple[_Plan, list[Any]]:
        plan = plan_of(statement, self._dialect)
        return plan, await self._send(self.connection.fetch, plan, params)

    async def _send(self, method: Callable[..., Any], plan: _Plan, params: Mapping[str, Any]) -> Any:
        arguments = self._arguments(plan, params)
        with ExitStack() as watched:
            for watcher in WATCHERS:
                watched.enter_context(watcher(plan.sql))
            try:
                return await method(plan.sql, *arguments)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                raise _translated(error, plan.sql, arguments) from error

    async def row(self, statement: Executable, params: Mapping[str, Any]) -> dict[str, Any] | None:
        plan, records = await self._fetch(statement, params)
        return self._record(plan, records[0]) if records else None

    async def scalar(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        row = await self.row(statement, params)
        return None if row is None else next(iter(row.values()))

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        plan, records = await self._fetch(statement, params)
        return [self._record(plan, record) for record in records]

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        status = await self._send(self.connection.execute, plan_of(statement, self._dialect), params)
        # The command tag: "UPDATE 3", "DELETE 0", "INSERT 0 1".
        return int(status.rsplit(" ", 1)[-1])


def _translated(error: BaseException, sql: str, arguments: list[Any]) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it, for the callers' `except IntegrityError` and the app's handlers
    (shared.errors.database_failure reads the SQLSTATE and whether the connection was lost)."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, arguments, error)
    lost = not isinstance(error, asyncpg.PostgresError)  # an interface error or the socket's: the connection is gone
    return DBAPIError(sql, arguments, error, connection_invalidated=lost)


class Inserter:
    """An ORM class's `INSERT … RETURNING id`, built once: a plain instance (built by the caller, never added to a
    session) written in one statement on a `Link`, with none of the unit of work's flush, and given its id. The
    database's refusals come back as `IntegrityError`, as from a flush."""

    def __init__(self, model: type[Any]):
        mapper = inspect(model)
        (self._primary,) = mapper.primary_key
        written = [(a.key, a.columns[0]) for a in mapper.column_attrs if a.columns[0] is not self._primary]
        # An attribute never set takes its column's Python-side default (`default=False`, `default=list`), as a
        # flush gives it; without one, NULL.
        self._defaults = {
            key: column.default
            for key, column in written
            if isinstance(column.default, (ScalarElementColumnDefault, CallableColumnDefault))
        }
        self._keys = tuple(key for key, _ in written)
        self.statement = (
            insert(mapper.local_table)
            .values({column: bindparam(key, type_=column.type) for key, column in written})
            .returning(self._primary)
        )

    async def add(self, link: Link, instance: Any) -> None:
        """Insert the instance's values and set its primary key."""
        given = vars(instance)  # the attributes set (a mapped instance keeps them in its __dict__)
        params = {key: given[key] for key in self._keys if key in given}
        context, filled = _DefaultContext(dict(params)), {}
        for key in self._keys:
            if key not in params:
                default = self._defaults.get(key)
                if isinstance(default, CallableColumnDefault):
                    filled[key] = default.arg(context)  # type: ignore[arg-type]  # reads only the values given
                else:
                    filled[key] = None if default is None else default.arg
        filled[self._primary.key] = await link.scalar(self.statement, params | filled)
        for key, value in filled.items():  # the instance then holds what was written, as after a flush
            set_committed_value(instance, key, value)


@dataclass(frozen=True)
class _DefaultContext:
    """What a context-sensitive column default reads of its INSERT (a blind index computed from the value given for
    another column): the values given, as SQLAlchemy's execution context offers them."""

    given: dict[str, Any]

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.given


def on(connection: AsyncConnection) -> Link:
    """A `Link` on a connection SQLAlchemy holds (a session's, in its transaction): code written for `Link` runs
    there too."""
    return _SessionLink(connection)


async def of_session(session: AsyncSession) -> Link:
    """A `Link` in the session's transaction, after what the session still has to write: a Link's statements do
    not flush the session, as its own queries do."""
    await session.flush()
    return _SessionLink(await session.connection())


@asynccontextmanager
async def connect(database: Database, *, transaction: bool) -> AsyncIterator[Link]:
    """A `Link` on a pooled connection: in one transaction (committed when the block ends, rolled back when it
    raises), or in autocommit for a single read.

    On PostgreSQL the connection is the pool's own asyncpg connection, checked out without an `AsyncConnection`
    around it. A connection whose state is unknown when the block ends (a lost connection, a task cancelled in the
    middle of a statement, a failed rollback) is closed and dropped from the pool rather than handed to the next
    request."""
    engine = database.engine
    if engine is None or database.dialect != "postgresql":
        if engine is None or not transaction:
            async with database.sessionmaker() as session, session.begin():
                yield _SessionLink(await session.connection())
            return
        async with engine.begin() as in_transaction:
            yield _SessionLink(in_transaction)
        return
    try:
        pooled = await greenlet_spawn(engine.sync_engine.raw_connection)
    except engine.dialect.loaded_dbapi.Error as error:
        # As `AsyncEngine.connect()` raises it: a database starting up or refusing us, with its SQLSTATE.
        raise DBAPIError.instance(None, None, error, engine.dialect.loaded_dbapi.Error) from error
    connection: Any = pooled.driver_connection  # asyncpg's
    healthy = False
    try:
        link = _DriverLink(connection, engine.dialect)
        if transaction:
            started = connection.transaction()
            await _guarded(started.start)
            try:
                yield link
            except Exception:
                # What went wrong is the error raised here; a rollback that fails too (the connection is gone) adds
                # nothing to it, and leaves the connection to be dropped below.
                with suppress(Exception):
                    await _guarded(started.rollback)
                raise
            await _guarded(started.commit)
        else:
            yield link
        healthy = True
    except Exception as error:
        # A refusal (a DomainError, a broken constraint) leaves the connection as it found it: back to the pool.
        lost = (isinstance(error, DBAPIError) and error.connection_invalidated) or connection.is_closed()
        healthy = not lost and not connection.is_in_transaction()
        if lost:
            # As SQLAlchemy does on a disconnect: the database went away (a restart, a failover), so every pooled
            # connection made before now is dead too and is replaced at its next checkout. Dropping only this one
            # let each of the others fail a request of its own, up to the pool's size of 503s in a row.
            # This one is invalidated below, with the others' cases.
            engine.sync_engine.pool._invalidate(pooled, error, _checkin=False)
        raise
    finally:
        # Not healthy, or cancelled (a BaseException) perhaps in the middle of a statement: closed, so that
        # PostgreSQL rolls back whatever was open, and dropped from the pool.
        if not healthy:
            pooled.invalidate()
        await greenlet_spawn(pooled.close)


async def _guarded(step: Callable[[], Awaitable[Any]]) -> None:
    """BEGIN, COMMIT or ROLLBACK, with the driver's errors translated as a statement's are (asyncpg raises some
    before the coroutine even starts: a transaction on a closed connection)."""
    try:
        await step()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise _translated(error, "BEGIN / COMMIT / ROLLBACK", []) from error
