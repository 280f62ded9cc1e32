"""Test harness: every service's database built by its real migrations, on SQLite and (when
TEST_POSTGRES_URL is set, as in CI) on PostgreSQL; each test inside an outer transaction rolled back."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import clock, migrations
from shared.db import Database, make_engine
from shared.identity import Principal, mint_assertion

# Fake third-party providers on loopback (SMS, WeChat subscription messages), for every test that needs one.
from tests.shared.fake_providers import fake_sms, fake_sms_server, fake_wechat_messages, fake_wechat_server  # noqa: F401

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "").rstrip("/")
# The suite's clients ask for English problem texts, which most tests read; the Chinese default and the choice of
# language are tested in tests/e2e/test_problem_languages.py and tests/shared/test_i18n_catalogue.py.
ENGLISH = {"Accept-Language": "en"}
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def database_prefix() -> str:
    """The start of this process's PostgreSQL database names. Two test runs at once on one server each need their
    own (a run resets them as it starts): `TEST_DATABASE_PREFIX=other_` gives other_<service>. Each pytest-xdist
    worker of a run adds its name (test_gw0_<service>), so that workers never share a database."""
    prefix = os.environ.get("TEST_DATABASE_PREFIX", "test_")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{prefix}{worker}_" if worker else prefix


def postgres_url(name: str) -> str:
    """A database of the tests (a service's, or one of its `role`s), created when missing and emptied as the run
    starts (`_reset_postgres`)."""
    base = POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database_prefix()}{name}"


@pytest.fixture
def moved_clock():
    """`clock.advance` for the test (the suite's one clock, shared/clock.py); the real time again afterwards."""
    try:
        yield clock.advance
    finally:
        clock.reset()


# The day `midday` sets the clock to: the 15th of the month the run started in (Asia/Shanghai), the same for the
# whole run (which may pass midnight). Mid-month, so that its "tomorrow" is in the same month and never 29 February.
TEST_DAY = clock.today().replace(day=15)
_to_midday: list[dt.timedelta] = []


@pytest.fixture
def midday():
    """The clock at 12:00 Asia/Shanghai on TEST_DAY for the test, then the real time again: for tests whose outcome
    would otherwise depend on when they run (tomorrow's breakfast closes at 20:00 today, lunch at 10:00, dinner at
    15:00; Shanghai's date is not UTC's before 08:00; midnight may pass between the test's `clock.today()` and the
    service's; "tomorrow" may be in the next month). Set once per run and then moving on, never back between tests."""
    clock.reset()
    if not _to_midday:
        _to_midday.append(dt.datetime.combine(TEST_DAY, dt.time(12), tzinfo=clock.SHANGHAI) - clock.now())
    clock.advance(_to_midday[0])
    try:
        yield
    finally:
        clock.reset()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


def pytest_collection_modifyitems(config, items):
    """`postgresql_only` tests run on PostgreSQL only: their SQLite variants are deselected, not skipped."""
    keep, drop = [], []
    for item in items:
        on_sqlite = getattr(item, "callspec", None) and item.callspec.params.get("backend") == "sqlite"
        (drop if item.get_closest_marker("postgresql_only") and (on_sqlite or not POSTGRES_URL) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class ServiceDatabase:
    service: str
    url: str
    engine: AsyncEngine
    dialect: str


async def _reset_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if not await _postgres_admin("SELECT 1 FROM pg_database WHERE datname = :name", name=name):
        await _postgres_admin(f'CREATE DATABASE "{name}"')
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


_databases: dict[tuple[str, str, str], ServiceDatabase] = {}


async def service_database(service: str, backend: str, tmp_dir, *, role: str = "") -> ServiceDatabase:
    """The migrated database of one service on one backend, built once per test session.

    A server that lives the whole session and commits what its tests send (an upstream behind the gateway) names a
    `role`, and gets a database of its own: the tests of `client` start from an empty database and roll back, and
    data committed by a file that ran before them on the same worker would show in their lists."""
    key = (service, backend, role)
    name = f"{service}_{role}" if role else service
    if key not in _databases:
        if backend == "postgresql":
            url = postgres_url(name)
            await _reset_postgres(url)
        else:
            url = f"sqlite+aiosqlite:///{tmp_dir / f'{name}.db'}"
        await asyncio.to_thread(migrations.upgrade, service, url)
        _databases[key] = ServiceDatabase(service, url, make_engine(url), backend)
    return _databases[key]


@pytest.fixture(scope="session")
def db_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("databases")


@pytest.fixture(scope="session", autouse=True)
async def _dispose_engines() -> AsyncIterator[None]:
    yield
    for database in _databases.values():
        await database.engine.dispose()


class ServiceClient(httpx.AsyncClient):
    """An httpx client on one service's app, with helpers to act as a given principal."""

    service: str
    identity_secret: str
    app: object  # the FastAPI app under test, for tests that reach its database directly

    def as_(self, principal: Principal) -> dict[str, str]:
        return {"X-Identity-Assertion": mint_assertion(principal, audience=self.service, secret=self.identity_secret)}


def settings_for(service: str, url: str):
    module = importlib.import_module(f"services.{service}.settings")
    # A pool as large as a production process's, so concurrency tests really run in parallel. placenames' warm-up
    # of its parse worker is off: each app would start a process (tests/placenames/test_parse_warm_up.py has it on).
    extra = {"parse_warm_up": False} if service == "placenames" else {}
    return getattr(module, f"{service.capitalize()}Settings")(database_url=url, env="test", db_pool_size=20, **extra)


async def client_for(service: str, database: ServiceDatabase) -> AsyncIterator[ServiceClient]:
    """The service's app bound to one connection whose outer transaction is rolled back afterwards."""
    app_module = importlib.import_module(f"services.{service}.main")
    settings = settings_for(service, database.url)
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        app = app_module.create_app(settings)
        app.state.database = Database(database.url, bind=connection)
        async with (
            app.router.lifespan_context(app),
            ServiceClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{service}", headers=ENGLISH
            ) as client,
        ):
            client.service = service
            client.app = app
            client.identity_secret = settings.identity_secret
            yield client
        await transaction.rollback()


# Principals used across the tests: their scopes are those the gateway's demo tokens carry.
def staff(area: str, *scopes: str, subject: str = "staff:test") -> Principal:
    return Principal(subject=subject, kind="staff", scopes=frozenset(scopes), area=area)


def resident(subject: str, *scopes: str) -> Principal:
    return Principal(subject=subject, kind="resident", scopes=frozenset(scopes))


@pytest.fixture
async def client(request, backend, db_dir) -> AsyncIterator[ServiceClient]:
    """The app of the service whose tests these are (tests/<service>/...), on a rolled-back transaction."""
    service = request.module.__name__.split(".")[1]
    async for c in client_for(service, await service_database(service, backend, db_dir)):
        yield c


async def _empty_tables(service: str, database: ServiceDatabase) -> None:
    package = "gateway" if service == "gateway" else f"services.{service}"
    metadata = importlib.import_module(f"{package}.database").Base.metadata
    tables = list(reversed(metadata.sorted_tables))
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # Append-only tables refuse DELETE by trigger (PostgreSQL's TRUNCATE fires no row triggers):
            # set the triggers aside, empty the tables, and put the very same triggers back.
            triggers = (
                await connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
            ).all()
            for name, _sql in triggers:
                await connection.execute(text(f'DROP TRIGGER "{name}"'))
            for table in tables:
                await connection.execute(table.delete())
            for _name, sql in triggers:
                await connection.execute(text(sql))


@pytest.fixture
async def committed_client(request, backend, db_dir) -> AsyncIterator[ServiceClient]:
    """The service's app on its own connection pool, committing for real: for concurrency tests.

    Requests sent together (asyncio.gather) run in parallel on separate connections, as in production.
    Every table of the service is emptied afterwards.
    """
    service = request.module.__name__.split(".")[1]
    database = await service_database(service, backend, db_dir)
    app_module = importlib.import_module(f"services.{service}.main")
    settings = settings_for(service, database.url)
    app = app_module.create_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            ServiceClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{service}", timeout=60, headers=ENGLISH
            ) as client,
        ):
            client.service, client.identity_secret, client.app = service, settings.identity_secret, app
            yield client
    finally:
        await _empty_tables(service, database)


async def _postgres_admin(statement: str, **params: str) -> bool:
    """Run `statement` on the server's `postgres` database; True when it returned a row."""
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = make_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1) + "/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement), params)
            return result.returns_rows and result.first() is not None
    finally:
        await engine.dispose()


@pytest.fixture
def scratch_database(backend, tmp_path) -> Iterator[Callable[[str], str]]:
    """Empty databases of the test's own on its backend, for tests that run migrations from the start:
    `scratch_database("name")` gives a URL. PostgreSQL ones are dropped afterwards."""
    made: list[str] = []

    def make(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / name}.db"
        database = f"{database_prefix()}scratch_{name}_{os.getpid()}"
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))  # a killed run's
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{database}"'))
        made.append(database)
        return POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{database}"

    yield make
    for database in made:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
