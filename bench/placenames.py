"""Place names: the parser's speed and accuracy, the in-memory dictionary's size, search and reverse
geocoding latency through the gateway on PostgreSQL.

    ./dev bench placenames [--addresses 1000000] [--queries 1000] [--database-url URL] [--reuse] [--skip-parser]
                          [--rename-rows 100000]

1. Parse rate per core (CPU time of this one process, so other load on the machine counts less) of our
   parser over the labelled set (tests/placenames/data/parse_set.csv), and its per-part accuracy. cpca and
   JioNLP are compared on the same lines when they are importable (install them into a scratch venv for
   the bench only: they are not dependencies of the service); otherwise the line says they were skipped.
2. Memory of the in-memory dictionary (tracemalloc), per spelling. No address is held in memory: addresses
   are looked up in the database through indexes, so the per-address in-memory cost is 0 bytes.
3. With --addresses N: a scratch PostgreSQL database (default `placenames_bench` on 127.0.0.1, created when
   missing and EMPTIED; --reuse keeps it when it already holds N addresses) is migrated and gets N synthetic
   addresses from the generator (COPY), then ANALYZE. placenames and the gateway start on loopback ports
   18404 / 18400 (the gateway's rate limits set out of reach, its other upstreams pointing nowhere). The
   same requests (search as typed letter by letter: first characters, a whole road, a road and part of a
   number, a house, partly typed full pinyin; reverse geocoding 100 m around points near real addresses)
   go to the service straight and through the gateway, each request to both in alternating order, after a
   warm-up. Printed: p50/p99 of each, the gateway/direct ratio measured side by side, the CPU time per
   request of the service and of the gateway (which, unlike wall-clock time, does not grow with other load
   on the machine), the service's RSS, and the load average. Everything started is stopped at the end.
4. The change feed (docs/changes.md): the time for one rename in placenames to reach `--rename-rows` (100,000)
   stored addresses in another service, on the embedded default (SQLite files in a temp dir). placenames,
   eldercare, eldercare's worker (whose follower reads the feed) and the gateway run as processes, as `./dev up`
   runs them. A road gets a standard address and 100,000 elders are filed at it; once the follower is up to
   date, the road is renamed through the gateway and the clock runs until every one of those rows holds the new
   text. Printed: that time, how much of it is the follower's poll interval at most, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import json
import os
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench import common
from bench.common import behind_gateway, cpu_seconds, load_average, percentile, say, stop
from services.placenames.parsing.schemas import MAX_BATCH

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "placenames" / "data" / "parse_set.csv"
PARTS = [
    "province",
    "city",
    "district",
    "township",
    "community",
    "road",
    "house_number",
    "area",
    "building",
    "unit",
    "floor",
    "room",
]


def _gazetteer():
    from services.placenames import gazetteer as G
    from services.placenames import seed

    divisions = [
        G.DivisionRow(r["code"], r["name"], r["level"], r["valid_to"] is None, r["successor_code"])
        for r in seed.source_rows()
    ]
    rows = seed.name_rows()
    ids = {(r["name"], r["district_code"]): i for i, r in enumerate(rows, 1)}
    names = [
        G.NameRow(
            i,
            r["name"],
            r["kind"],
            r["status"],
            r["district_code"],
            ids.get((r["standard_name"], r["district_code"])) if r["standard_name"] else None,
        )
        for i, r in enumerate(rows, 1)
    ]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    built = G.build(divisions, names)
    size = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    # The indexes built from it on first use: search as you type (prefix, initials, full pinyin) and the
    # misspelt-road speller. pypinyin loads its own dictionaries on first use (tens of MiB, once per process,
    # whatever the data): loaded first, so that only our indexes are counted.
    __import__("pypinyin").lazy_pinyin("宁波")
    before = tracemalloc.take_snapshot()
    built.name_index, built.road_speller  # noqa: B018 (built lazily)
    built.indexes_size = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    return built, size


def _accuracy(rows, got_parts) -> tuple[float, dict[str, float]]:
    right, total = {p: 0 for p in PARTS}, {p: 0 for p in PARTS}
    for row, got in zip(rows, got_parts, strict=True):
        for p in PARTS:
            if row[p] or p in got:
                total[p] += 1
                right[p] += got.get(p, "") == row[p]
    overall = sum(right.values()) / max(sum(total.values()), 1)
    return overall, {p: right[p] / total[p] for p in PARTS if total[p]}


def bench_parser(rounds: int = 20) -> None:
    from services.placenames.parsing.parser import parse

    rows = list(csv.DictReader(LABELLED.open(encoding="utf-8")))
    texts = [r["text"] for r in rows]
    gaz, size = _gazetteer()
    parsed = [{k: p.value for k, p in parse(gaz.dictionary, t).parts.items()} for t in texts]
    overall, per_part = _accuracy(rows, parsed)
    start = time.process_time()
    for _ in range(rounds):
        for t in texts:
            parse(gaz.dictionary, t)
    rate = rounds * len(texts) / (time.process_time() - start)
    print(
        f"ours:  {rate:,.0f} addresses/s per core (CPU time), {len(texts)} labelled lines × {rounds}; "
        f"parts right {overall:.2%}"
    )
    print("       per part: " + ", ".join(f"{p} {v:.1%}" for p, v in per_part.items()))
    print(
        f"dictionary: {len(gaz.dictionary):,} spellings, {size / 2**20:.1f} MiB "
        f"({size / len(gaz.dictionary):.0f} B per spelling); search and speller indexes built from it: "
        f"{gaz.indexes_size / 2**20:.1f} MiB; addresses held in memory: none (0 B per address)"
    )
    for name in ("cpca", "jionlp"):
        try:
            __import__(name)
        except ImportError:
            print(f"{name}: skipped (not installed; install it in a scratch venv to compare)")
            continue
        _compare(name, rows, texts)


def _compare(name: str, rows, texts) -> None:
    """cpca and JioNLP cover province/city/district (and JioNLP township/village); compare those levels."""
    if name == "cpca":
        import cpca

        run = lambda batch: cpca.transform(batch)  # noqa: E731
        run(texts[:5])  # loads its data: not part of the rate
        start = time.process_time()
        frame = run(texts)
        rate = len(texts) / (time.process_time() - start)
        got = [
            {"province": r["省"] or "", "city": r["市"] or "", "district": r["区"] or ""} for _, r in frame.iterrows()
        ]
    else:
        import jionlp

        jionlp.parse_location(texts[0], town_village=True)  # loads its data: not part of the rate
        start = time.process_time()
        results = [jionlp.parse_location(t, town_village=True) for t in texts]
        rate = len(texts) / (time.process_time() - start)
        got = [
            {
                "province": r.get("province") or "",
                "city": r.get("city") or "",
                "district": r.get("county") or "",
                "township": r.get("town") or "",
            }
            for r in results
        ]
    levels = list(got[0])
    right = {lv: sum(g[lv] == r[lv] for g, r in zip(got, rows, strict=True) if r[lv]) for lv in levels}
    total = {lv: sum(1 for r in rows if r[lv]) for lv in levels}
    print(
        f"{name}: {rate:,.0f} addresses/s per core; "
        + ", ".join(f"{lv} {right[lv] / total[lv]:.1%}" for lv in levels if total[lv])
        + " (where written)"
    )


GATEWAY_PORT, SERVICE_PORT = 18400, 18404  # fixed: a run's figures name them
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/placenames_bench"


async def fresh_database(url: str, count: int, reuse: bool) -> None:
    """Create the scratch database when missing; unless `reuse` finds `count` addresses there already, empty
    it, migrate it and generate `count` addresses (COPY on PostgreSQL)."""
    from sqlalchemy import text

    from services.placenames.generate import generate
    from shared import migrations
    from shared.db import Database

    if url.startswith("postgresql"):
        import asyncpg

        await common.ensure_database(url)
        if reuse:
            connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                have = (
                    await connection.fetchval("SELECT count(*) FROM addresses WHERE status = 'current'")
                    if await connection.fetchval("SELECT to_regclass('addresses') IS NOT NULL")
                    else 0
                )
            finally:
                await connection.close()
            if have >= count:
                say(f"reusing {have:,} addresses already in {url.rsplit('/', 1)[1]}")
                await asyncio.to_thread(migrations.upgrade, "placenames", url)
                return
        await common.fresh_database(url)
    await asyncio.to_thread(migrations.upgrade, "placenames", url)
    database = Database(url)
    try:
        started = time.perf_counter()
        await generate(database, count)
        async with database.sessionmaker() as session:
            if database.dialect == "postgresql":
                await session.execute(text("ANALYZE"))
            await session.commit()
        say(f"seeded {count:,} addresses in {time.perf_counter() - started:.0f} s (load average {load_average()})")
    finally:
        await database.dispose()


def start_suite(url: str, tmp: Path, env: dict[str, str] | None = None):
    """placenames and the gateway on loopback ports of their own; the other upstreams point nowhere."""
    return behind_gateway("placenames", url, tmp, service_port=SERVICE_PORT, gateway_port=GATEWAY_PORT, env=env)


async def workload(url: str, queries: int, seed: int = 7) -> dict[str, list[tuple[str, dict]]]:
    """The same requests for both targets: what people type, letter by letter, and points near addresses."""
    import asyncpg

    from services.placenames import seed as demo
    from services.placenames.search.index import syllables

    rng = random.Random(seed)
    roads = [r["name"] for r in demo.name_rows() if r["kind"] == "road" and r["status"] == "standard"]
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        # A 2 % sample of the table's pages; a small table may have none sampled, then all of it is read.
        points, houses = [], []
        for sampled in (True, False):
            sample = "TABLESAMPLE SYSTEM (2) REPEATABLE ({})" if sampled else ""
            points = points or await connection.fetch(
                f"SELECT latitude, longitude FROM addresses {sample.format(7)} WHERE latitude IS NOT NULL LIMIT $1",
                queries,
            )
            houses = houses or await connection.fetch(
                f"SELECT n.name, a.house_number FROM addresses a {sample.format(8)} "
                "JOIN place_names n ON n.id = a.road_id WHERE a.level = 'house' LIMIT $1",
                queries,
            )
    finally:
        await connection.close()
    search = []
    for i in range(queries):
        road = rng.choice(roads)
        name, number = houses[i % len(houses)]
        search.append(
            rng.choice(
                [
                    road[:2],  # the first characters of a name
                    road,  # a road typed in full: its addresses
                    name + number[: max(1, len(number) - 1)],  # a road and part of a number
                    f"{name}{number}号",  # a house
                    "".join(syllables(road))[: rng.randint(4, 12)],  # full pinyin, partly typed
                ]
            )
        )
    metres = 1 / 111_320
    reverse = [
        {
            "lat": round(lat + rng.uniform(-50, 50) * metres, 6),
            "lon": round(lon + rng.uniform(-50, 50) * metres, 6),
            "radius_m": 100,
        }
        for lat, lon in (points[i % len(points)] for i in range(queries))
    ]
    return {
        "search as you type": [("/api/placenames/v1/addresses/search", {"q": q}) for q in search],
        "reverse geocoding": [("/api/placenames/v1/reverse-geocode", p) for p in reverse],
    }


def percentiles(samples: list[float]) -> tuple[float, float]:
    return percentile(samples, 0.50), percentile(samples, 0.99)


async def bench_queries(count: int, queries: int, url: str, reuse: bool) -> None:
    import httpx

    say(f"\nsearch and reverse geocoding: {count:,} addresses, {url.split('@')[-1]}, load average {load_average()}")
    await fresh_database(url, count, reuse)
    requests = await workload(url, queries)
    tmp = Path(tempfile.mkdtemp(prefix="bench-placenames-"))
    suite = start_suite(url, tmp)
    try:
        direct = httpx.AsyncClient(base_url=suite.url("placenames"), timeout=10)
        gateway = httpx.AsyncClient(base_url=suite.url("gateway"), timeout=10)
        async with direct, gateway:
            for client in (direct, gateway):  # warm-up: connections, the dictionary, the pinyin index, caches
                for calls in requests.values():
                    for path, params in calls[:50]:
                        await client.get(path, params=params)
            results: dict[tuple[str, str], list[float]] = {}
            hits: dict[str, int] = {}
            cpu: dict[tuple[str, str], float] = {}
            pids = {name: suite.processes[name].pid for name in ("placenames", "gateway")}
            for kind, calls in requests.items():
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                for n, (path, params) in enumerate(calls):
                    # Side by side: each request to both targets, in alternating order.
                    pair = [("direct", direct), ("gateway", gateway)]
                    for target, client in pair if n % 2 == 0 else pair[::-1]:
                        started = time.perf_counter()
                        response = await client.get(path, params=params)
                        elapsed = (time.perf_counter() - started) * 1000
                        if response.status_code != 200:
                            raise RuntimeError(f"{kind} {params}: {response.status_code} {response.text[:200]}")
                        results.setdefault((kind, target), []).append(elapsed)
                        if target == "direct":
                            hits[kind] = hits.get(kind, 0) + bool(response.json()["items"])
                # CPU time per request: the service serves every call twice (direct and via the gateway).
                cpu[(kind, "placenames")] = (cpu_seconds(pids["placenames"]) - before["placenames"]) / (2 * len(calls))
                cpu[(kind, "gateway")] = (cpu_seconds(pids["gateway"]) - before["gateway"]) / len(calls)
        rss = _rss_kib(suite.processes["placenames"].pid)
    finally:
        stop(suite)
    say(
        f"{'':22} {'direct p50':>10} {'p99':>8}   {'gateway p50':>11} {'p99':>8}   gateway/direct p50, p99   "
        f"CPU per request: service, gateway"
    )
    for kind in requests:
        d50, d99 = percentiles(results[(kind, "direct")])
        g50, g99 = percentiles(results[(kind, "gateway")])
        say(
            f"{kind:22} {d50:8.1f} ms {d99:5.1f} ms   {g50:8.1f} ms {g99:5.1f} ms   {g50 / d50:.2f}, {g99 / d99:.2f}"
            f"{'':16}{cpu[(kind, 'placenames')] * 1000:.1f} ms, {cpu[(kind, 'gateway')] * 1000:.1f} ms"
            f"   ({queries} calls each, {hits[kind]} with results)"
        )
    say(
        f"target: p99 ≤ 30 ms through the gateway. placenames process RSS after the run: {rss / 1024:.0f} MiB "
        f"(no address is held in memory: 0 B per address). Load average {load_average()} on "
        f"{os.cpu_count()} CPUs: wall-clock latencies include waiting for a CPU; CPU per request much less so."
    )


PARSE_SENDERS = 4  # batches in flight at once: enough to keep the worker, the loop and the database all busy


def parse_texts(addresses: list[str], seed: int = 11) -> list[str]:
    """Addresses as people write them: standard ones with the province, city or district left out at random,
    and one in ten a line of the labelled set (some of which match nothing)."""
    rng = random.Random(seed)
    lines = [r["text"] for r in csv.DictReader(LABELLED.open(encoding="utf-8"))]
    return [
        rng.choice(lines) if rng.random() < 0.1 else rng.choice(addresses)[rng.choice((0, 0, 3, 6)) :]
        for _ in range(len(addresses))
    ]


def parser_alone(texts: list[str]) -> float:
    """The parser alone over the same texts, in this process: texts per second of CPU time."""
    from services.placenames.parsing.parser import parse

    gaz, _ = _gazetteer()
    start = time.process_time()
    for t in texts:
        parse(gaz.dictionary, t)
    return len(texts) / (time.process_time() - start)


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


async def _backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving the bench database (the server runs on this machine)."""
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return [
            pid
            for (pid,) in await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    finally:
        await connection.close()


async def bench_parses(url: str, seconds: float, batch: int, senders: int = PARSE_SENDERS) -> None:
    """/parses through the gateway: `senders` batches of `batch` texts in flight, each sent again when answered,
    for `seconds`; /healthz of placenames (on its port: its event loop) and of the gateway probed every 10 ms
    meanwhile, each probe without waiting for the ones before. CPU time per 1,000 texts of every process that
    does the work, read from /proc: placenames, its parsing worker, the gateway, PostgreSQL's backends and this
    client; their sum says what the whole path costs, whatever else the machine runs."""
    import aiohttp
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        addresses = [r[0] for r in await connection.fetch("SELECT full_name FROM addresses ORDER BY id")]
    finally:
        await connection.close()
    rng = random.Random(5)
    texts = parse_texts(rng.sample(addresses, min(len(addresses), 20 * batch)))
    alone = parser_alone(texts)
    bodies = [
        json.dumps({"texts": texts[i : i + batch]}, ensure_ascii=False).encode() for i in range(0, len(texts), batch)
    ]
    say(
        f"\n/parses through the gateway: {len(addresses):,} addresses, batches of {batch:,} texts, {senders} in "
        f"flight, {seconds:.0f} s; load average {load_average()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-parses-"))
    # A batch waits behind the others in flight: on a loaded machine that can pass the gateway's 10 s default,
    # and a 504 would end the run rather than measure it.
    suite = start_suite(url, tmp, {"GATEWAY_UPSTREAM_READ_TIMEOUTS": json.dumps({"/api/placenames/v1/parses": 120})})
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=senders + 50), timeout=aiohttp.ClientTimeout(total=120)
        ) as http:
            gateway, service = suite.url("gateway"), suite.url("placenames")
            async with http.post(f"{gateway}/api/auth/v1/dev-tokens", json={"principal": "partner"}) as response:
                token = (await response.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            async def parses(body: bytes) -> bytes:
                async with http.post(f"{gateway}/api/placenames/v1/parses", data=body, headers=headers) as response:
                    answer = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"/parses answered {response.status}: {answer[:300]!r}")
                    return answer

            # Warm-up: the dictionary and the road speller are built, the worker process started, on first use.
            await parses(json.dumps({"texts": texts[:10]}, ensure_ascii=False).encode())
            first = json.loads(await parses(bodies[0]))["results"]
            matched = sum(1 for r in first if r["match"]) / len(first)
            for body in bodies[1:senders]:
                await parses(body)
            pids = {"placenames": [suite.processes["placenames"].pid], "gateway": [suite.processes["gateway"].pid]}
            pids["parsing worker"] = _children(pids["placenames"][0])  # and multiprocessing's resource tracker
            pids["PostgreSQL"] = await _backends(url)
            pids["this client"] = [os.getpid()]

            async def probing(during: asyncio.Future) -> tuple[dict[str, list[float]], dict[str, float], float]:
                """/healthz latencies while `during` runs; the CPU seconds each process spent meanwhile."""
                health: dict[str, list[float]] = {"placenames": [], "gateway": []}

                async def probe(name: str, base: str) -> None:
                    started = time.perf_counter()
                    async with http.get(f"{base}/healthz") as response:
                        await response.read()
                    health[name].append((time.perf_counter() - started) * 1000)

                before, started, probes = {n: cpu_seconds(*p) for n, p in pids.items()}, time.perf_counter(), []
                while not during.done():
                    probes += [
                        asyncio.ensure_future(probe("placenames", service)),
                        asyncio.ensure_future(probe("gateway", gateway)),
                    ]
                    await asyncio.sleep(0.010)
                await during
                elapsed = time.perf_counter() - started
                cpu = {n: cpu_seconds(*p) - before[n] for n, p in pids.items()}
                await asyncio.gather(*probes)
                return health, cpu, elapsed

            # The probes alone first: what they cost each process a second, taken off the CPU per text below.
            idle_health, idle_cpu, idle_elapsed = await probing(asyncio.ensure_future(asyncio.sleep(3)))
            done, until = 0, time.perf_counter() + seconds

            async def sender(first_body: int) -> None:
                nonlocal done
                n = first_body
                while time.perf_counter() < until:
                    await parses(bodies[n % len(bodies)])
                    done += batch
                    n += senders

            health, cpu, elapsed = await probing(asyncio.gather(*(sender(k) for k in range(senders))))
    finally:
        stop(suite)
    rate = done / elapsed
    per_text = {name: max(0.0, s - idle_cpu[name] * elapsed / idle_elapsed) / done for name, s in cpu.items()}
    total = sum(per_text.values())
    say(
        f"through the gateway: {rate:,.0f} texts/s ({done:,} texts in {elapsed:.1f} s, batches of {batch:,}; "
        f"{matched:.0%} of the first batch matched a standard address); target ≥ 10,000 texts/s"
    )
    say(
        f"the parser alone, same texts, one process: {alone:,.0f} texts/s of CPU; through the gateway / parser "
        f"alone = {rate / alone:.3f}"
    )
    for name in health:
        say(
            f"/healthz of {name} meanwhile: p50 {percentile(health[name], 0.5):.1f} ms, "
            f"p99 {percentile(health[name], 0.99):.1f} ms ({len(health[name])} probes; with nothing else to do: "
            f"p50 {percentile(idle_health[name], 0.5):.1f} ms, p99 {percentile(idle_health[name], 0.99):.1f} ms); "
            "target p99 ≤ 50 ms"
        )
    say(
        "CPU per 1,000 texts (the probes' own cost taken off): "
        + ", ".join(f"{name} {s * 1000 * 1000:.0f} ms" for name, s in per_text.items())
        + f"; in all {total * 1e6:.0f} µs a text ({sum(cpu.values()) / done * 1e6:.0f} µs with the probes): "
        f"{os.cpu_count()} free CPUs would do about {os.cpu_count() / total:,.0f} texts/s. The parser alone takes "
        f"{1e6 / alone:.0f} µs a text: the whole path costs {total * alone:.1f} times the parse. This run had "
        f"{sum(cpu.values()) / elapsed:.2f} CPUs of {os.cpu_count()}; load average {load_average()}"
    )


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def bench_rename_reach(rows: int) -> None:
    """One rename in placenames reaching `rows` stored addresses in eldercare, through the feed (docs/changes.md)."""
    import sqlite3

    import httpx
    from sqlalchemy import insert

    from services.eldercare.elders.models import Elder
    from shared.db import Database, utcnow
    from shared.divisions import division_code
    from tools.devserver import Suite

    say(f"\nchange feed: one rename reaching {rows:,} stored addresses in eldercare (SQLite), load {load_average()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-feed-"))
    names = ("placenames", "eldercare", "gateway")
    env = {
        "ENV": "dev",
        "LOG_LEVEL": "WARNING",
        "GATEWAY_RATE_LIMITS": json.dumps(common.UNREACHABLE_LIMITS),
        "GATEWAY_PORT": str(common.free_port()),
    }
    for name in names:
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / name}.db"
        if name != "gateway":
            env[f"{name.upper()}_PORT"] = str(common.free_port())
    suite = Suite(env, log_dir=tmp / "log")
    suite.manage("prepare", "placenames", "gateway")  # divisions, names; a client per service
    suite.manage("migrate", "eldercare")
    try:
        for name in ("placenames", "eldercare", "gateway", "eldercare-worker"):
            suite.start(name)
        for name in ("placenames", "eldercare"):
            suite.wait_ready(name)
        deadline = time.monotonic() + 60
        while suite.get("/healthz")[0] != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not start")
            time.sleep(0.2)
        async with httpx.AsyncClient(base_url=suite.url(), timeout=30) as gateway:
            token = (await gateway.post("/api/auth/v1/dev-tokens", json={"principal": "staff-city"})).json()
            city = {"Authorization": f"Bearer {token['access_token']}"}
            yinzhou = division_code("鄞州区")
            road = await gateway.post(
                "/api/placenames/v1/names",
                headers=city,
                json={"name": "甬馈测速路", "kind": "road", "district_code": yinzhou, "status": "standard"},
            )
            house = await gateway.post(
                "/api/placenames/v1/addresses",
                headers=city,
                json={"district_code": yinzhou, "road_id": road.json()["id"], "house_number": "1"},
            )
            address = house.json()
            database = Database(env["ELDERCARE_DATABASE_URL"])
            started = time.perf_counter()
            try:
                for first in range(0, rows, 10_000):
                    async with database.sessionmaker() as session, session.begin():
                        await session.execute(
                            insert(Elder),
                            [
                                dict(
                                    id_number=f"9{n:017d}",  # synthetic, never a real person's: distinct per row
                                    name="测速",
                                    sex="female",
                                    birth_on=dt.date(1945, 1, 1),
                                    address=address["full_name"],
                                    address_code=address["code"],
                                    address_status="standard",
                                    area_code=address["district_code"],
                                    registered_by="bench",
                                    created_at=utcnow(),
                                )
                                for n in range(first, min(rows, first + 10_000))
                            ],
                        )
            finally:
                await database.dispose()
            say(f"  {rows:,} elders filed at {address['full_name']} in {time.perf_counter() - started:.0f} s")

            async def caught_up() -> int:
                last = (await gateway.get("/api/placenames/v1/changes", headers=city)).json()["last_seq"]
                with sqlite3.connect(tmp / "eldercare.db") as db:
                    row = db.execute("SELECT position FROM feed_cursors").fetchone()
                return last - (row[0] if row else 0)

            while await caught_up():
                await asyncio.sleep(0.2)
            started = time.perf_counter()
            renamed = await gateway.post(
                f"/api/placenames/v1/names/{road.json()['id']}/events",
                headers=city,
                json={
                    "kind": "renaming",
                    "new_name": "甬馈测速东路",
                    "decision_document": "bench",
                    "decided_on": "2026-12-01",
                },
            )
            assert renamed.status_code == 201, renamed.text
            committed = time.perf_counter() - started
            new_text = (await gateway.get(f"/api/placenames/v1/addresses/{address['code']}")).json()["full_name"]
            while True:
                with sqlite3.connect(tmp / "eldercare.db") as db:
                    reached = db.execute("SELECT count(*) FROM elders WHERE address = ?", (new_text,)).fetchone()[0]
                if reached == rows:
                    break
                await asyncio.sleep(0.02)
            took = time.perf_counter() - started
    finally:
        stop(suite)
    say(
        f"  rename → all {rows:,} stored addresses show the new text: {took:.2f} s (the rename's own request "
        f"{committed * 1000:.0f} ms; the follower polls every 1 s, so up to 1 s of this is waiting for its next "
        f"look). Load average {load_average()}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench placenames")
    parser.add_argument(
        "--addresses",
        type=int,
        default=0,
        help="seed N addresses into a scratch PostgreSQL database and time search and reverse "
        "geocoding, straight to the service and through the gateway",
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a scratch PostgreSQL database (emptied)")
    parser.add_argument("--reuse", action="store_true", help="keep the addresses already there if enough")
    parser.add_argument("--skip-parser", action="store_true")
    parser.add_argument("--skip-search", action="store_true", help="no search or reverse geocoding")
    parser.add_argument(
        "--parse-seconds",
        type=float,
        default=20,
        help="with --addresses: time /parses through the gateway for this long (0: not at all)",
    )
    parser.add_argument("--batch", type=int, default=MAX_BATCH, help=f"texts per /parses (1–{MAX_BATCH})")
    parser.add_argument(
        "--rename-rows",
        type=int,
        default=100_000,
        help="stored addresses in eldercare one rename must reach through the change feed (0: skip)",
    )
    args = parser.parse_args()
    if not args.skip_parser:
        bench_parser()
    if args.rename_rows:
        asyncio.run(bench_rename_reach(args.rename_rows))
    if args.addresses:
        if args.skip_search:
            asyncio.run(fresh_database(args.database_url, args.addresses, args.reuse))
        else:
            asyncio.run(bench_queries(args.addresses, args.queries, args.database_url, args.reuse))
        if args.parse_seconds:
            asyncio.run(bench_parses(args.database_url, args.parse_seconds, args.batch))


if __name__ == "__main__":
    main()
