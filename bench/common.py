"""What every benchmark needs: a scratch database, a service behind the gateway on loopback, percentiles,
CPU time per process and the machine's load (these machines are shared: every figure says how loaded)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

from shared import migrations

HOST = "127.0.0.1"  # loopback only
# The rate limiter stays on (its cost per request is part of what is measured) with limits no benchmark
# reaches: refused requests would be cheap 429s, not the work being measured.
UNREACHABLE_LIMITS = {
    kind: "1000000/1000000" for kind in ("anonymous", "resident", "staff", "partner", "service", "sign-in")
}


def say(message: str = "") -> None:
    print(message, flush=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time of these processes (all their threads), from /proc/PID/stat."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time of named processes over a run, and of the PostgreSQL server processes serving one database when
    the server runs on this machine (their /proc entries are readable): the database's share of each request,
    which the raw side pays too. Server-wide work (the WAL writer, checkpoints, autovacuum) is not in it, so that
    share is a lower bound; a session that ends during the run takes its time with it."""

    def __init__(self, processes: dict[str, int], database_url: str | None = None):
        self.processes, self.database_url = processes, database_url

    async def _backends(self) -> list[int]:
        if self.database_url is None:
            return []
        connection = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await connection.close()
        return [row["pid"] for row in rows if Path(f"/proc/{row['pid']}/stat").exists()]

    async def sample(self) -> dict[str | int, float]:
        """Each named process's CPU seconds so far, and each of the database's server processes' by pid."""
        sampled: dict[str | int, float] = {name: cpu_seconds(pid) for name, pid in self.processes.items()}
        sampled.update({pid: cpu_seconds(pid) for pid in await self._backends()})
        return sampled

    @staticmethod
    def spent(before: dict[str | int, float], after: dict[str | int, float]) -> dict[str, float]:
        """CPU seconds between two samples by name; the server processes' together as "postgres" (a process that
        started in between counts from its start)."""
        spent = {name: after[name] - before[name] for name in after if isinstance(name, str)}
        backends = [pid for pid in after if isinstance(pid, int)]
        if backends:
            spent["postgres"] = sum(after[pid] - before.get(pid, 0.0) for pid in backends)
        return spent


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names when it does not exist."""
    server, name = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)
    admin = await asyncpg.connect(f"{server}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def fresh_database(url: str, service: str | None = None) -> None:
    """Create the PostgreSQL database if missing and WIPE it (DROP SCHEMA public); then migrate `service`."""
    await ensure_database(url)
    database = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await database.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await database.close()
    if service:
        await asyncio.to_thread(migrations.upgrade, service, url.replace("postgresql://", "postgresql+asyncpg://", 1))


def behind_gateway(
    service: str,
    url: str,
    tmp: Path,
    *,
    service_port: int | None = None,
    gateway_port: int | None = None,
    env: dict[str, str] | None = None,
):
    """`service` on `url` and the gateway in front of it, as processes on loopback; the gateway on a throw-away
    database of its own, the other upstreams pointing at closed ports. Returns the running `Suite`."""
    from tools.devserver import Suite  # here: a bench that only reads figures needs none of it

    service_port, gateway_port = service_port or free_port(), gateway_port or free_port()
    settings = {
        "ENV": "dev",
        "BIND_HOST": HOST,
        "LOG_LEVEL": "WARNING",
        "GATEWAY_PORT": str(gateway_port),
        f"{service.upper()}_PORT": str(service_port),
        f"{service.upper()}_DATABASE_URL": url,
        "GATEWAY_RATE_LIMITS": json.dumps(UNREACHABLE_LIMITS),
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'gateway.db'}",
    }
    from services import SERVICES

    for other in SERVICES:
        port = service_port if other == service else free_port()  # nothing listens on the others'
        settings[f"GATEWAY_UPSTREAM_{other.upper()}"] = f"http://{HOST}:{port}"
    settings.update(env or {})
    # Its own database, not the developer's var/gateway.db; migrated in a thread, since Alembic's run here
    # has an event loop of its own and a caller may be inside one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(migrations.upgrade, "gateway", settings["GATEWAY_DATABASE_URL"]).result()
    suite = Suite(settings, log_dir=tmp / "log")
    suite.start(service)
    suite.start("gateway")
    suite.wait_ready(service)
    deadline = time.monotonic() + 60
    while True:  # the gateway's /readyz waits for all four services; only one runs here
        if suite.processes["gateway"].poll() is not None:
            raise RuntimeError(f"the gateway exited; see {suite.log_path('gateway')}")
        with contextlib.suppress(OSError):
            if suite.get("/healthz")[0] == 200:
                return suite
        if time.monotonic() > deadline:
            raise TimeoutError("the gateway did not start")
        time.sleep(0.2)


def stop(suite) -> None:
    """Stop what `behind_gateway` started and remove its temp dir (the gateway's database, the logs)."""
    suite.stop_all()
    shutil.rmtree(suite.log_dir.parent, ignore_errors=True)
