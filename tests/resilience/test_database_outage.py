"""A database that goes away: readiness fails, requests answer 503 (never 500), and all recovers.

A real eldercare process talks to PostgreSQL through a TCP relay that the test can cut and restore,
which is what a database failover or a network partition looks like from the service.
"""

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import text
from stdnum.cn import ric

from gateway.principals import DEMO_PRINCIPALS
from shared.db import make_engine
from shared.identity import mint_assertion
from shared.settings import DEV_IDENTITY_SECRET, ROOT
from tests.conftest import POSTGRES_URL
from tests.gateway.conftest import free_port

pytestmark = pytest.mark.postgresql_only


class Relay:
    """A TCP relay to PostgreSQL that can drop every connection and refuse new ones, then come back."""

    def __init__(self, target_port: int = 5432):
        self.target_port = target_port
        self.port = free_port()
        self.server = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def start(self):
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.pipes |= {writer, upstream_writer}

        async def pump(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))

    async def cut(self):
        self.server.close()
        for pipe in list(self.pipes):
            pipe.transport.abort()
        self.pipes.clear()
        await self.server.wait_closed()


def id_number(serial: str) -> str:
    base = f"330212{dt.date(1950, 5, 5):%Y%m%d}{serial}"
    return base + ric.calc_check_digit(base + "0")


@pytest.fixture
async def database_name():
    name = "resilience_eldercare"
    admin = make_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://") + "/postgres", isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await connection.execute(text(f"CREATE DATABASE {name}"))
    yield name
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    await admin.dispose()


async def test_database_outage_is_503_then_recovers_with_no_committed_write_lost(database_name, tmp_path):
    relay = Relay()
    await relay.start()
    host = POSTGRES_URL.split("://", 1)[1].split("@", 1)[0]
    port = free_port()
    env = os.environ | {
        "ENV": "dev",
        "ELDERCARE_PORT": str(port),
        "ELDERCARE_DATABASE_URL": f"postgresql+asyncpg://{host}@127.0.0.1:{relay.port}/{database_name}",
    }
    # Migrated directly (a blocking call here would starve the relay, which runs on this event loop).
    direct = env | {"ELDERCARE_DATABASE_URL": f"postgresql+asyncpg://{host}@127.0.0.1:5432/{database_name}"}
    subprocess.run(
        [sys.executable, "-m", "services.manage", "migrate", "eldercare"],
        cwd=ROOT,
        env=direct,
        check=True,
        capture_output=True,
    )
    log = open(tmp_path / "eldercare.log", "wb")  # noqa: SIM115 (open for the child process's whole life)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.eldercare"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    staff = DEMO_PRINCIPALS["staff-yinzhou"]

    def headers():
        return {"X-Identity-Assertion": mint_assertion(staff, audience="eldercare", secret=DEV_IDENTITY_SECRET)}

    body = {"id_number": id_number("012"), "name": "林阿婆", "address": "鄞州区百丈街道1号", "area_code": "330212001"}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, (tmp_path / "eldercare.log").read_text()
                assert time.monotonic() < deadline, "eldercare did not become ready"
                await asyncio.sleep(0.1)
            created = await client.post("/api/eldercare/v1/elders", json=body, headers=headers())
            assert created.status_code == 201, created.text

            await relay.cut()
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            for _ in range(3):
                listing = await client.get("/api/eldercare/v1/elders", headers=headers())
                assert listing.status_code == 503, listing.text
                assert listing.headers["content-type"] == "application/problem+json"
                assert listing.headers["retry-after"]
            assert (await client.get("/healthz")).status_code == 200  # alive, just not ready

            await relay.start()
            started = time.monotonic()
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() - started < 10, "not ready again 10 s after the database returned"
                await asyncio.sleep(0.1)
            listing = await client.get("/api/eldercare/v1/elders", headers=headers())
            assert listing.status_code == 200
            assert [e["name"] for e in listing.json()["items"]] == ["林阿婆"]  # the committed write survived
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)  # off the loop: the relay must keep pumping meanwhile
        log.close()
        await relay.cut()
    assert b"Traceback" not in (tmp_path / "eldercare.log").read_bytes()
