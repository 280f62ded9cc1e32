"""The gateway in-process, in front of real services served by uvicorn on loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway import seed as gateway_seed
from gateway.app import create_app
from gateway.principals import DEMO_PRINCIPALS, issue_token
from gateway.settings import GatewaySettings
from services.eldercare.main import create_app as create_eldercare
from shared.db import Database
from tests.conftest import ENGLISH, service_database, settings_for
from tests.shared.loopback import free_port, serve_in_background


class BlackHole:
    """A TCP server that accepts connections and never answers: a service that hangs."""

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _hold(self, reader, writer):
        await asyncio.sleep(3600)

    def close(self):
        self.server.close()


@pytest.fixture(scope="session")
async def upstream_eldercare(db_dir):
    database = await service_database("eldercare", "sqlite", db_dir, role="upstream")
    port = free_port()
    server, _task = await serve_in_background(create_eldercare(settings_for("eldercare", database.url)), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture(scope="session")
async def black_hole():
    hole = BlackHole()
    port = await hole.start()
    yield f"http://127.0.0.1:{port}"
    hole.close()


async def gateway_client(database, **options) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway on its own migrated database, inside an outer transaction rolled back afterwards."""
    settings = GatewaySettings(env="test", database_url=database.url, **options)
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        app = create_app(settings)
        app.local_app.state.database = Database(database.url, bind=connection)
        await app.startup()
        async with app.local_app.state.database.sessionmaker() as session, session.begin():
            await gateway_seed.load(session)
        # A long timeout: Argon2 sign-ins on a loaded 2-core machine can take seconds.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60, headers=ENGLISH
        ) as client:
            client.settings = settings
            client.app = app
            yield client
        await app.shutdown()
        await transaction.rollback()


@pytest.fixture
async def gateway(upstream_eldercare, black_hole, db_dir):
    """eldercare is real; assistance hangs (timeouts); charity and placenames point at closed ports."""
    database = await service_database("gateway", "sqlite", db_dir)
    async for client in gateway_client(
        database,
        upstream_eldercare=upstream_eldercare,
        upstream_assistance=black_hole,
        upstream_charity=f"http://127.0.0.1:{free_port()}",
        upstream_placenames=f"http://127.0.0.1:{free_port()}",
        # The hanging service times out fast; eldercare keeps the usual deadline (a loaded machine's answer may
        # take longer than half a second).
        upstream_read_timeouts={"assistance": 0.5},
    ):
        yield client


@pytest.fixture
async def auth_gateway(backend, db_dir):
    """The gateway's sign-in routes on each backend; no upstream is needed."""
    database = await service_database("gateway", backend, db_dir)
    async for client in gateway_client(database):
        yield client


def bearer(principal: str, settings: GatewaySettings, lifetime_s: int = 600) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(DEMO_PRINCIPALS[principal], settings.token_secret, lifetime_s)}


@pytest.fixture
async def committed_auth_gateway(backend, db_dir):
    """The gateway on its own pool with real commits, for concurrency tests; tables emptied afterwards."""
    from tests.conftest import _empty_tables

    database = await service_database("gateway", backend, db_dir)
    # A generous per-address brake: these tests go after the database's rules, not the brake.
    settings = GatewaySettings(
        env="test",
        database_url=database.url,
        db_pool_size=20,
        rate_limits=GatewaySettings().rate_limits | {"sign-in": "100/1000"},
    )
    app = create_app(settings)
    await app.startup()
    try:
        async with app.local_app.state.database.sessionmaker() as session, session.begin():
            await gateway_seed.load(session)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60, headers=ENGLISH
        ) as client:
            client.settings = settings
            client.app = app
            yield client
    finally:
        await app.shutdown()
        await _empty_tables("gateway", database)
