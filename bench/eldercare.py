"""Eldercare under a lunchtime rush: meal orders against limited places, and bed holds under contention,
through the gateway on PostgreSQL, next to the same conditional writes run raw through asyncpg.

    ./dev bench eldercare [--clients 200] [--elders 1000] [--canteens 4] [--places 100] [--rounds 3]
                          [--rate R] [--beds 5] [--hold-rounds 5] [--pool-size 10] [--database-url URL] [--keep]
                          [--spreadsheet-rows 100000] [--only spreadsheets]
                          [--notifications 10000] [--notify-workers 4] [--only notifications]

One run, on loopback only (127.0.0.1), with its own ports (gateway 18300, eldercare 18301; it refuses to start
when one is taken), its own temp dir (the gateway's SQLite database, logs) and its own PostgreSQL database
(default `eldercare_bench` on 127.0.0.1:5432, created when missing and WIPED at the start: give it a scratch
database only):

1. migrates eldercare into the database and starts eldercare and the gateway as processes (tools.devserver),
   the gateway's rate limits set out of reach (their per-request cost is still paid, no request is refused);
   assistance is not started and eldercare's peer address is a closed port, so meal prices fall back to the
   age tier at once (the circuit breaker opens): this measures eldercare and its database, not assistance;
2. registers `--elders` older people and, per round, `--canteens` canteens with one lunch menu of `--places`
   places each, through the API with a demo staff token (鄞州区);
3. meal rush, `--rounds` times: every elder orders one lunch (POST /meal-orders with an Idempotency-Key) at
   one of the canteens, `--clients` requests in flight at once (or, with `--rate`, arriving at R per second:
   an open loop); then the same orders as raw SQL through an
   asyncpg pool of the same size as the service's (read the menu, refuse when sold out, else in one
   transaction insert the order and take a place with `UPDATE menus SET remaining = remaining - 1
   WHERE id = $1 AND remaining >= 1`), on menus of their own; the order of the two alternates per round;
4. bed holds, `--hold-rounds` times: `--clients` people at once each try to hold one of `--beds` beds
   (POST /bed-holds); the holds won are released (not timed) before the next round; then the same raw
   (expire lapsed holds on the bed, insert the hold; the partial unique indexes refuse a second live one);
5. checks the database afterwards: orders placed per menu against its capacity (oversells), and pairs of
   holds or admissions on one bed whose lifetimes overlap (double holds); prints requests/s, orders/s,
   p50/p99, CPU per request of the processes, and the service/raw ratios;
7. spreadsheets (bench/spreadsheets.py): `--spreadsheet-rows` older people imported from one .xlsx through the
   gateway by eldercare's worker process, then every person the token sees exported to .xlsx and downloaded; rows
   per second and the worker's peak memory printed (`--only spreadsheets` runs this alone).
8. notifications (bench/notifications.py): `--notifications` queued in the outbox and sent by job workers to
   fake SMS and WeChat providers on loopback, the rates printed (`--only notifications` runs this alone).

It is a benchmark, not a test: it exits 0 when it ran, whatever the figures. See docs/benchmarks/eldercare.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from stdnum.cn import ric

from bench import notifications, spreadsheets
from bench.common import (
    HOST,
    CpuMeter,
    behind_gateway,
    free_port,
    fresh_database,
    load_average,
    percentile,
    port_free,
    say,
)
from shared import clock
from shared.divisions import division_code
from tools.devserver import Suite

GATEWAY_PORT, SERVICE_PORT = 18300, 18301
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/eldercare_bench"
API = "/api/eldercare/v1"
YINZHOU = division_code("鄞州区")
AREA = division_code("百丈街道")  # in 鄞州区: inside the demo staff token's area
TARGET_P99_MS = 100.0


# ------------------------------------------------------------------------------------------ measurement


@dataclass
class Run:
    """One batch of requests fired together: latencies (ms) and answers."""

    name: str
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    won_ms: list[float] = field(default_factory=list)  # latencies of the requests that got a place / a bed
    statuses: dict[int, int] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def won(self) -> int:
        return len(self.won_ms)


async def fire(
    name: str, jobs: list, clients: int, call, meter: CpuMeter | None = None, rate: float | None = None
) -> Run:
    """Run `call(job)` for every job with at most `clients` in flight; `call` returns a status.

    Closed loop (no `rate`): all clients start together and each sends its next request when its last one is
    answered; a latency is from sending to the answer. Open loop (`rate` per second): job i is due at i / rate
    seconds, whatever the answers; a latency is from when the job was due, so the time a request waits for a free
    client when the service falls behind is counted (no coordinated omission).
    """
    run = Run(name)
    queue: asyncio.Queue = asyncio.Queue()
    for n, job in enumerate(jobs):
        queue.put_nowait((n, job))
    start = asyncio.Event()
    began = 0.0

    async def worker() -> None:
        await start.wait()
        while True:
            try:
                n, job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if rate:
                due = began + n / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            else:
                due = time.perf_counter()
            status = await call(job)
            took = (time.perf_counter() - due) * 1000
            run.latencies_ms.append(took)
            run.statuses[status] = run.statuses.get(status, 0) + 1
            if status == 201:
                run.won_ms.append(took)

    tasks = [asyncio.create_task(worker()) for _ in range(clients)]
    await asyncio.sleep(0)
    before = await meter.sample() if meter else {}
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    run.elapsed_s = time.perf_counter() - began
    run.cpu_s = CpuMeter.spent(before, await meter.sample()) if meter else {}
    return run


# ------------------------------------------------------------------------------------------- database

# --------------------------------------------------------------------------------------------- the API


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str):
        self.session = session
        self.base = base
        self.headers = {"authorization": f"Bearer {token}"}

    async def post(self, path: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
        async with self.session.post(
            self.base + API + path, json=body, headers=self.headers | (headers or {})
        ) as response:
            return response.status, await response.json(content_type=None)

    async def created(self, path: str, body: dict) -> dict:
        status, answer = await self.post(path, body)
        if status != 201:
            raise RuntimeError(f"POST {path} answered {status}: {json.dumps(answer, ensure_ascii=False)[:300]}")
        return answer


def id_number(serial: int) -> str:
    """A valid 18-character ID number of someone born in 鄞州区 between 1935 and 1960 (all 60+)."""
    birth = dt.date(1935, 1, 1) + dt.timedelta(days=serial % 9000)
    base = f"{YINZHOU}{birth:%Y%m%d}{(serial // 9000) % 1000:03d}"
    return base + ric.calc_check_digit(base + "0")


async def gather_limited(coroutines, limit: int = 20) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines))


async def register_elders(api: Api, count: int) -> list[int]:
    elders = await gather_limited(
        api.created(
            "/elders",
            {
                "id_number": id_number(n),
                "name": "基准老人",
                "address": "百丈东路100号",
                "area_code": AREA,
                "latitude": 29.868,
                "longitude": 121.561,
            },
        )
        for n in range(count)
    )
    return [e["id"] for e in elders]


async def canteens_with_menus(api: Api, count: int, places: int, label: str) -> list[int]:
    """`count` canteens, each with a lunch menu for tomorrow of `places` places; the menu ids."""
    served_on = (clock.today() + dt.timedelta(days=1)).isoformat()
    menus = []
    for n in range(count):
        canteen = await api.created(
            "/canteens",
            {
                "name": f"基准食堂 {label}-{n}",
                "kind": "canteen",
                "area_code": AREA,
                "address": "百丈东路100号",
                "latitude": 29.868,
                "longitude": 121.561,
                "delivery_area_codes": [AREA],
            },
        )
        menu = await api.created(
            f"/canteens/{canteen['id']}/menus",
            {
                "served_on": served_on,
                "meal": "lunch",
                "dishes": ["红烧鱼", "青菜", "米饭"],
                "price_fen": 1500,
                "capacity": places,
            },
        )
        menus.append(menu["id"])
    return menus


async def institution_with_beds(api: Api, beds: int, label: str) -> list[int]:
    institution = await api.created(
        "/institutions",
        {
            "name": f"基准养老院 {label}",
            "ownership": "public",
            "star_rating": 3,
            "area_code": AREA,
            "address": "鄞州区天童南路1号",
            "latitude": 29.82,
            "longitude": 121.55,
        },
    )
    return [
        (
            await api.created(
                "/beds", {"institution_id": institution["id"], "label": f"1-{n:03d}", "bed_type": "nursing"}
            )
        )["id"]
        for n in range(beds)
    ]


# ---------------------------------------------------------------------------------------- the two sides


async def meal_rush_service(
    api: Api, elders: list[int], menus: list[int], clients: int, meter: CpuMeter | None, rate: float | None = None
) -> Run:
    jobs = [(elder, menus[n % len(menus)]) for n, elder in enumerate(elders)]
    random.shuffle(jobs)

    async def call(job) -> int:
        elder, menu = job
        status, _ = await api.post(
            "/meal-orders",
            {"menu_id": menu, "elder_id": elder, "fulfilment": "dine_in"},
            {"idempotency-key": str(uuid.uuid4())},
        )
        return status

    return await fire("service", jobs, clients, call, meter, rate)


ORDER_INSERT = """
INSERT INTO meal_orders (menu_id, elder_id, fulfilment, quantity, unit_price_fen, subsidy_fen, payable_fen,
                         subsidy_tier, pricing_basis, status_source, status, placed_by, created_at)
VALUES ($1, $2, 'dine_in', 1, $3, 0, $3, NULL, 'fallback', 'none', 'placed', 'bench:raw', now())
"""
TAKE_PLACE = "UPDATE menus SET remaining = remaining - 1 WHERE id = $1 AND remaining >= 1"


async def meal_rush_raw(
    pool: asyncpg.Pool,
    elders: list[int],
    menus: list[int],
    clients: int,
    meter: CpuMeter | None,
    rate: float | None = None,
) -> Run:
    jobs = [(elder, menus[n % len(menus)]) for n, elder in enumerate(elders)]
    random.shuffle(jobs)

    async def call(job) -> int:
        elder, menu = job
        async with pool.acquire() as connection:
            row = await connection.fetchrow("SELECT price_fen, remaining, cutoff_at FROM menus WHERE id = $1", menu)
            if row["remaining"] < 1:
                return 409  # sold out when read: no lock taken
            try:
                async with connection.transaction():
                    await connection.execute(ORDER_INSERT, menu, elder, row["price_fen"])
                    if await connection.execute(TAKE_PLACE, menu) != "UPDATE 1":
                        raise _SoldOut
            except _SoldOut:
                return 409
            return 201

    return await fire("raw", jobs, clients, call, meter, rate)


class _SoldOut(Exception):
    pass


async def holds_service(api: Api, elders: list[int], beds: list[int], meter: CpuMeter) -> tuple[Run, list[int]]:
    jobs = [(elder, random.choice(beds)) for elder in elders]
    won: list[int] = []

    async def call(job) -> int:
        elder, bed = job
        status, answer = await api.post("/bed-holds", {"bed_id": bed, "elder_id": elder, "minutes": 30})
        if status == 201:
            won.append(answer["id"])
        return status

    return await fire("service", jobs, len(jobs), call, meter), won


HOLD_EXPIRE = (
    "UPDATE bed_occupancies SET status = 'expired', ended_at = now() "
    "WHERE bed_id = $1 AND status = 'active' AND kind = 'hold' AND expires_at <= now()"
)
HOLD_INSERT = """
INSERT INTO bed_occupancies (bed_id, elder_id, kind, purpose, status, expires_at, created_by, created_at)
VALUES ($1, $2, 'hold', 'booking', 'active', now() + interval '30 minutes', 'bench:raw', now())
ON CONFLICT DO NOTHING RETURNING id
"""


async def holds_raw(pool: asyncpg.Pool, elders: list[int], beds: list[int], meter: CpuMeter) -> Run:
    jobs = [(elder, random.choice(beds)) for elder in elders]

    async def call(job) -> int:
        elder, bed = job
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(HOLD_EXPIRE, bed)
            return 201 if await connection.fetchval(HOLD_INSERT, bed, elder) else 409

    return await fire("raw", jobs, len(jobs), call, meter)


# -------------------------------------------------------------------------------------------- checks


async def oversells(connection: asyncpg.Connection) -> tuple[int, int, int]:
    """(menus checked, places sold beyond capacity in total, menus whose remaining count disagrees)."""
    rows = await connection.fetch("""
        SELECT m.id, m.capacity, m.remaining,
               coalesce(sum(o.quantity) FILTER (WHERE o.status = 'placed'), 0) AS placed
        FROM menus m LEFT JOIN meal_orders o ON o.menu_id = m.id GROUP BY m.id""")
    over = sum(max(0, r["placed"] - r["capacity"]) for r in rows)
    disagree = sum(1 for r in rows if r["remaining"] != r["capacity"] - r["placed"])
    return len(rows), over, disagree


async def double_holds(connection: asyncpg.Connection) -> tuple[int, int]:
    """(holds and admissions checked, pairs on one bed whose lifetimes overlap)."""
    total = await connection.fetchval("SELECT count(*) FROM bed_occupancies")
    pairs = await connection.fetchval("""
        SELECT count(*) FROM bed_occupancies a JOIN bed_occupancies b ON a.bed_id = b.bed_id AND a.id < b.id
        WHERE tstzrange(a.created_at, coalesce(a.ended_at, 'infinity'), '[)')
           && tstzrange(b.created_at, coalesce(b.ended_at, 'infinity'), '[)')""")
    return total, pairs


# ------------------------------------------------------------------------------------------ reporting


def line(run: Run, what: str) -> str:
    rate = run.requests / run.elapsed_s
    won_rate = run.won / run.elapsed_s
    statuses = " ".join(f"{k}×{v}" for k, v in sorted(run.statuses.items()))
    cpu = ""
    if run.cpu_s:
        cpu = "  CPU/req " + ", ".join(f"{k} {v * 1e6 / run.requests:.0f} µs" for k, v in run.cpu_s.items())
    return (
        f"{run.name:<8} {run.requests:>5} requests in {run.elapsed_s:6.2f} s = {rate:7.1f} req/s, "
        f"{run.won:>4} {what} = {won_rate:6.1f}/s, p50 {statistics.median(run.latencies_ms):7.1f} ms, "
        f"p99 {percentile(run.latencies_ms, 0.99):7.1f} ms [{statuses}]{cpu}"
    )


def summary(title: str, what: str, service: list[Run], raw: list[Run]) -> None:
    def pooled(runs: list[Run]) -> tuple[float, float, float, float, float]:
        latencies = [x for r in runs for x in r.latencies_ms]
        won = [x for r in runs for x in r.won_ms]
        rate = statistics.median(r.requests / r.elapsed_s for r in runs)
        return (
            rate,
            statistics.median(latencies),
            percentile(latencies, 0.99),
            statistics.median(won) if won else float("nan"),
            percentile(won, 0.99),
        )

    s, r = pooled(service), pooled(raw)
    say()
    say(f"{title}: {'':<20}{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50 ' + what:>14} {'p99 ' + what:>14}")
    pad = " " * (len(title) - 2)
    for label, f in (("service via gateway", s), ("raw asyncpg", r)):
        say(f"  {label:<19}{pad}{f[0]:>8.1f} {f[1]:>8.1f} {f[2]:>8.1f} {f[3]:>14.1f} {f[4]:>14.1f}")
    say(
        f"  service/raw ratio: throughput {s[0] / r[0]:.2f}, p50 {s[1] / r[1]:.1f}x, p99 {s[2] / r[2]:.1f}x "
        f"(req/s: median of rounds; p50/p99 over all rounds' requests); service p99 target ≤ {TARGET_P99_MS:.0f} ms: "
        f"{'met' if s[2] <= TARGET_P99_MS else 'NOT met'}"
    )
    cpu_budget(service, raw)


def cpu_budget(service: list[Run], raw: list[Run]) -> None:
    """Each side's CPU per request over all its rounds, every process counted (the load generator and PostgreSQL
    too): on a machine whose cores they share and keep busy, throughput is at most cores / that, so the ratio of
    the two is the throughput ratio's ceiling, whatever the wait. Printed with what the ceiling would be were
    the service's own share at the issue's 800 µs."""

    def per_request(runs: list[Run]) -> dict[str, float]:
        requests = sum(r.requests for r in runs)
        names = {name for r in runs for name in r.cpu_s}
        return {name: sum(r.cpu_s.get(name, 0.0) for r in runs) * 1e6 / requests for name in sorted(names)}

    s, r = per_request(service), per_request(raw)
    if not s or "postgres" not in s:
        return
    s_total, r_total = sum(s.values()), sum(r.values())
    own = next(name for name in s if name not in ("gateway", "client", "postgres"))
    say(
        f"  CPU per request, every process: service {s_total:.0f} µs ("
        + ", ".join(f"{k} {v:.0f}" for k, v in s.items())
        + f"), raw {r_total:.0f} µs ("
        + ", ".join(f"{k} {v:.0f}" for k, v in r.items() if v)
        + f"); ceiling of the throughput ratio {r_total / s_total:.2f}, "
        f"{r_total / (s_total - s[own] + 800):.2f} were {own} at 800 µs"
    )


# ---------------------------------------------------------------------------------------------- the run


def start_suite(url: str, tmp: Path, pool_size: int) -> Suite:
    return behind_gateway(
        "eldercare",
        url,
        tmp,
        service_port=SERVICE_PORT,
        gateway_port=GATEWAY_PORT,
        env={
            "LOG_LEVEL": "INFO",
            "ELDERCARE_DB_POOL_SIZE": str(pool_size),
            # Assistance is not part of this bench: its address refuses connections, prices fall back at once.
            "ELDERCARE_GATEWAY_URL": f"http://{HOST}:{free_port()}",
        },
    )


async def bench(args: argparse.Namespace, suite: Suite) -> None:
    url = args.database_url
    # CPU time per request of each process; "client" is this process (the load generator, and the raw side's
    # asyncpg work); "postgres" the server processes of the bench's database, both sides' (bench.common.CpuMeter).
    meter = CpuMeter(
        {
            "eldercare": suite.processes["eldercare"].pid,
            "gateway": suite.processes["gateway"].pid,
            "client": os.getpid(),
        },
        url,
    )
    connector = aiohttp.TCPConnector(limit=args.clients + 10, limit_per_host=args.clients + 10)
    timeout = aiohttp.ClientTimeout(total=120)
    raw_pool_size = 2 * args.pool_size  # the service's engine: pool_size plus as many overflow connections
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        asyncpg.create_pool(url, min_size=raw_pool_size, max_size=raw_pool_size) as pool,
    ):
        async with session.post(suite.url() + "/api/auth/v1/dev-tokens", json={"principal": "staff-yinzhou"}) as r:
            token = (await r.json())["access_token"]
        api = Api(session, suite.url(), token)

        started = time.perf_counter()
        elders = await register_elders(api, args.elders)
        say(f"set-up: {len(elders)} elders registered through the API in {time.perf_counter() - started:.1f} s")

        # Warm-up: connections, caches, the query plans of both sides (not counted).
        warm = await canteens_with_menus(api, 1, 10, "warm")
        await meal_rush_service(api, elders[:50], warm, 20, None)
        warm = await canteens_with_menus(api, 1, 10, "warm-raw")
        await meal_rush_raw(pool, elders[:50], warm, 20, None)

        say()
        load = (
            f"open loop: {args.rate:g} orders/s arriving, at most {args.clients} in flight"
            if args.rate
            else f"closed loop: {args.clients} clients at once"
        )
        say(
            f"meal rush: {args.elders} orders per side and round, {args.canteens} canteens × {args.places} places "
            f"= {args.canteens * args.places} places, {load}, {args.rounds} rounds"
        )
        service_runs, raw_runs = [], []
        for n in range(args.rounds):
            menus_service = await canteens_with_menus(api, args.canteens, args.places, f"s{n}")
            menus_raw = await canteens_with_menus(api, args.canteens, args.places, f"r{n}")
            sides = [("service", menus_service), ("raw", menus_raw)]
            for side, menus in sides if n % 2 == 0 else sides[::-1]:
                if side == "service":
                    run = await meal_rush_service(api, elders, menus, args.clients, meter, args.rate)
                    service_runs.append(run)
                else:
                    run = await meal_rush_raw(pool, elders, menus, args.clients, meter, args.rate)
                    raw_runs.append(run)
                say(f"round {n + 1}  {line(run, 'placed')}")
                await asyncio.sleep(args.pause)
        summary("meal rush", "placed", service_runs, raw_runs)

        beds_service = await institution_with_beds(api, args.beds, "service")
        beds_raw = await institution_with_beds(api, args.beds, "raw")
        people = elders[: args.clients]
        say()
        say(
            f"bed holds: {args.clients} people at once each hold one of {args.beds} beds, {args.hold_rounds} rounds "
            f"per side; the holds won are released between rounds"
        )
        service_holds, raw_holds = [], []
        for n in range(args.hold_rounds):
            run, won = await holds_service(api, people, beds_service, meter)
            service_holds.append(run)
            say(f"round {n + 1}  {line(run, 'held')}")
            for hold_id in won:
                status, answer = await api.post(f"/bed-holds/{hold_id}/release")
                if status != 200:
                    raise RuntimeError(f"release of hold {hold_id}: {status} {answer}")
            run = await holds_raw(pool, people, beds_raw, meter)
            raw_holds.append(run)
            say(f"round {n + 1}  {line(run, 'held')}")
            await pool.execute(
                "UPDATE bed_occupancies SET status = 'released', ended_at = now() "
                "WHERE status = 'active' AND created_by = 'bench:raw'"
            )
            await asyncio.sleep(args.pause)
        if service_holds:  # --hold-rounds 0: the meal rush alone (a profile of it, say)
            summary("bed holds", "held", service_holds, raw_holds)

        async with pool.acquire() as connection:
            menus, over, disagree = await oversells(connection)
            occupancies, doubles = await double_holds(connection)
        held = {"service": sum(r.won for r in service_holds), "raw": sum(r.won for r in raw_holds)}
        say()
        say(
            f"oversells: {over} places sold beyond capacity over {menus} menus "
            f"({disagree} menus whose remaining count disagrees with their orders)"
        )
        say(
            f"double holds: {doubles} pairs of overlapping holds or admissions on one bed over {occupancies} "
            f"({held['service']} holds won through the service in {args.hold_rounds} rounds of {args.beds} beds, "
            f"{held['raw']} raw)"
        )


async def main(args: argparse.Namespace) -> int:
    args.database_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    busy = [port for port in (GATEWAY_PORT, SERVICE_PORT) if not port_free(port)]
    if busy:
        raise SystemExit(f"bench: ports already in use on {HOST}: {busy} (another bench running?)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-eldercare-"))
    say(f"bench eldercare: database {args.database_url.split('@')[-1]} (wiped), files {tmp}")
    say(f"date     {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    say(f"machine  nproc {os.cpu_count()}; load average {load_average()}")
    await fresh_database(args.database_url, "eldercare")
    suite = None
    failed = True
    try:
        suite = await asyncio.to_thread(start_suite, args.database_url, tmp, args.pool_size)
        say(
            f"processes eldercare :{SERVICE_PORT} (pool {args.pool_size} + {args.pool_size} overflow), "
            f"gateway :{GATEWAY_PORT} (rate limits out of reach), LOG_LEVEL INFO"
        )
        if args.only is None:
            await bench(args, suite)
        if args.spreadsheet_rows and args.only in (None, "spreadsheets"):
            await spreadsheets.run(suite, rows=args.spreadsheet_rows)
        if args.notifications and args.only in (None, "notifications"):
            await notifications.run(
                suite.url(),
                args.database_url,
                tmp / "gateway.db",
                count=args.notifications,
                workers=args.notify_workers,
            )
        failed = False
    finally:
        say()
        say(f"load average at the end: {load_average()}")
        if suite is not None:
            suite.stop_all()
        if args.keep or failed:
            say(f"bench: logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev bench eldercare", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="requests in flight at once (200)")
    parser.add_argument("--elders", type=int, default=1000, help="people registered; each orders once per round")
    parser.add_argument("--canteens", type=int, default=4, help="canteens (one lunch menu each) per side and round")
    parser.add_argument("--places", type=int, default=100, help="places per menu (100)")
    parser.add_argument("--rounds", type=int, default=3, help="meal-rush rounds per side (3)")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="meal rush as an open loop: orders arriving per second (default: closed loop, all "
        "--clients sending back to back)",
    )
    parser.add_argument("--beds", type=int, default=5, help="beds contended for (5)")
    parser.add_argument("--hold-rounds", type=int, default=5, help="bed-hold rounds per side (5)")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=10,
        help="eldercare's pool (ELDERCARE_DB_POOL_SIZE; as many overflow); the raw pool gets both",
    )
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between runs (1)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a scratch PostgreSQL database (it is wiped)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, the gateway's database)")
    parser.add_argument(
        "--spreadsheet-rows", type=int, default=100_000, help="older people imported from one .xlsx (100,000; 0: none)"
    )
    parser.add_argument(
        "--notifications", type=int, default=10_000, help="notifications queued and sent (10,000; 0: none)"
    )
    parser.add_argument("--notify-workers", type=int, default=4, help="job workers sending them (4)")
    parser.add_argument("--only", choices=["spreadsheets", "notifications"], help="run this phase alone")
    args = parser.parse_args(argv)
    if args.elders < args.clients:
        parser.error("--elders must be at least --clients (each client holds for a different person)")
    return args


if __name__ == "__main__":

    def on_sigterm(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
