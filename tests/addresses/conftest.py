"""Standard addresses end to end: placenames (with its demo divisions and names), eldercare, assistance and
charity, each served on a loopback port behind the real gateway, on SQLite and PostgreSQL, committing for real.

The services reach placenames through that gateway with their own client credentials (the dev
secrets the gateway's seed registers), exactly as deployed. Their background jobs run in the test process
(tests/jobs.run_jobs) against the same apps and databases.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import seed as gateway_seed
from gateway.app import create_app as create_gateway
from gateway.principals import STAFF_SCOPES, issue_token
from gateway.settings import GatewaySettings
from services.placenames import seed as placenames_seed
from services.placenames.addresses.models import Address
from services.placenames.names.models import PlaceName
from shared.divisions import division_code
from shared.identity import Principal
from tests.conftest import _empty_tables, service_database, settings_for
from tests.shared.loopback import free_port, serve_in_background

PLACENAMES = "/api/placenames/v1"
ELDERCARE = "/api/eldercare/v1"
ASSISTANCE = "/api/assistance/v1"
CHARITY = "/api/charity/v1"
YINZHOU = division_code("鄞州区")
HAISHU = division_code("海曙区")
PLACENAMES_DEADLINE_S = 10.0
BREAKER_PAUSE_S = 0.2  # the gateway's pause before it calls a service that failed again


def staff_of(area: str, subject: str) -> Principal:
    return Principal(subject=subject, kind="staff", scopes=frozenset(STAFF_SCOPES), area=area, name=subject)


@dataclass
class City:
    gateway: httpx.AsyncClient
    settings: GatewaySettings
    apps: dict[str, object]
    servers: dict[str, tuple] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def bearer(self, principal: Principal) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(principal, self.settings.token_secret, 600)}

    async def stop(self, name: str) -> None:
        """The service is down: its port refuses connections."""
        server, task = self.servers.pop(name)
        server.should_exit = True
        await task

    async def start(self, name: str) -> None:
        port = int(self.urls[name].rsplit(":", 1)[1])
        self.servers[name] = await serve_in_background(self.apps[name], port)
        if name == "placenames" and "gateway" in self.servers:
            await asyncio.sleep(BREAKER_PAUSE_S * 1.5)  # the gateway tries placenames again
            await self.warm_up()

    async def warm_up(self) -> None:
        """placenames builds its parser's dictionary on the first parse: done here, not inside a test's write. On a
        loaded 2-core machine the build can outlast the gateway's 10 s deadline: the parse is asked again (the build
        goes on in its thread) until it is answered, for a minute at most."""
        staff = Principal(subject="staff:warm-up", kind="staff", scopes=frozenset(STAFF_SCOPES), area=YINZHOU)
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            parsed = await self.gateway.post(
                f"{PLACENAMES}/parse", headers=self.bearer(staff), json={"text": "天童南路1号"}
            )
            if parsed.status_code != 504 or asyncio.get_running_loop().time() > deadline:
                break
        assert parsed.status_code == 200, parsed.text


async def _placenames_demo_data(engine) -> None:
    async with AsyncSession(engine) as session:
        if not await session.scalar(select(func.count()).select_from(PlaceName)):
            await placenames_seed.load(session)
        await session.commit()


@pytest.fixture
async def city(backend, db_dir, monkeypatch) -> AsyncIterator[City]:
    databases = {
        name: await service_database(name, backend, db_dir)
        for name in ("placenames", "eldercare", "assistance", "charity")
    }
    await _placenames_demo_data(databases["placenames"].engine)
    ports = {name: free_port() for name in (*databases, "gateway")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    # The services' jobs read their settings from the environment, as a worker process does.
    for name in ("eldercare", "assistance", "charity"):
        monkeypatch.setenv(f"{name.upper()}_GATEWAY_URL", urls["gateway"])
        monkeypatch.delenv(f"{name.upper()}_PEER_TOKEN", raising=False)
        # A 2-core machine running the whole suite is slow: the deadline is not what these tests are about.
        monkeypatch.setenv(f"{name.upper()}_PLACENAMES_TIMEOUT_S", str(PLACENAMES_DEADLINE_S))
    apps = {}
    for name, database in databases.items():
        settings = settings_for(name, database.url).model_copy(
            update={"gateway_url": urls["gateway"], "placenames_timeout_s": PLACENAMES_DEADLINE_S}
        )
        apps[name] = importlib.import_module(f"services.{name}.main").create_app(settings)
    gateway_database = await service_database("gateway", backend, db_dir)
    settings = GatewaySettings(
        env="test",
        database_url=gateway_database.url,
        upstream_placenames=urls["placenames"],
        upstream_eldercare=urls["eldercare"],
        upstream_assistance=urls["assistance"],
        upstream_charity=urls["charity"],
        upstream_breaker_pause_s=BREAKER_PAUSE_S,
    )
    apps["gateway"] = gateway = create_gateway(settings)
    city = City(httpx.AsyncClient(base_url=urls["gateway"], timeout=30), settings, apps, urls=urls)
    try:
        for name in ports:  # the gateway last: its lifespan opens its upstreams
            await city.start(name)
        async with gateway.local_app.state.database.sessionmaker() as session, session.begin():
            await gateway_seed.load(session)  # a client per service, with its dev secret
        await city.warm_up()
        yield city
    finally:
        await city.gateway.aclose()
        for name in reversed(list(city.servers)):
            await city.stop(name)
        for name in ("eldercare", "assistance", "charity"):
            await _empty_tables(name, databases[name])
        async with AsyncSession(databases["placenames"].engine) as session:
            await session.execute(delete(Address))  # the addresses the test issued; divisions and names stay
            await session.commit()
