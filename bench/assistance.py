"""Assistance at city scale: screening against a bare aggregate, and single checks and status lookups through
the gateway.

    ./dev bench assistance [--households 1000000] [--requests 2000] [--chunk 20000] [--database-url URL] [--reuse]

1. builds a synthetic city in its own PostgreSQL database (default `assistance_bench` on 127.0.0.1:5432,
   created when missing, wiped at the start) with the generator of `tools.data.assistance_generate`;
2. times what can be done over the same income rows without the rules, then the whole screening job exactly as
   the service runs it (chunks, checkpoints, leads), and prints its ratio to each (targets: ≤ 30 s for 1 M
   households, ≤ 3× the bare aggregate). Incomes are stored encrypted, so no SQL can sum them any more; the two
   baselines are (a) the SQL aggregate still possible over the same rows (count of counted incomes per
   household) and (b) the least any screening must now do: read the same rows' ciphertexts chunk by chunk,
   decrypt them and sum them per member in Python. Then the rules alone (hits counted, no leads written; of
   which loading the chunks' incomes), to show how the time splits between evaluating and writing leads;
3. starts the assistance service and the gateway on loopback ports 18202 / 18200 (the gateway's rate limits
   out of reach, its own throw-away database) and measures p50/p99 of single eligibility checks and status
   lookups, one request at a time, with a demo token (target p99 ≤ 20 ms); with `--during-screening`, while a city
   screening started through the API runs in the same service;
4. stops what it started. It is a benchmark, not a test: it exits 0 when it ran, whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from bench.common import behind_gateway, fresh_database, percentile, say, stop
from services.assistance import seed
from services.assistance.discovery import batch, runner, screenings
from services.assistance.discovery.models import Screening
from services.assistance.discovery.schemas import ScreeningIn
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Member
from services.assistance.settings import AssistanceSettings
from shared import clock, migrations
from shared.areas import CITY_CODE
from shared.db import Database
from shared.identity import Principal
from tools.data.assistance_generate import generate
from tools.devserver import Suite

GATEWAY_PORT, SERVICE_PORT = 18200, 18202
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/assistance_bench"
CITY = Principal(subject="bench:city", kind="staff", scopes=frozenset({"assistance.screenings:run"}), area=CITY_CODE)


def load() -> str:
    """The 1-minute load average: on a shared machine, figures mean little without it."""
    return f"load {os.getloadavg()[0]:.1f}"


async def build_city(database: Database, households: int) -> None:
    today = clock.today()
    async with database.sessionmaker() as session, session.begin():
        await seed.load(session)
    chunk, done, started = 50_000, 0, time.perf_counter()
    while done < households:
        size = min(chunk, households - done)
        async with database.sessionmaker() as session, session.begin():
            await generate(session, size, as_of=today, seed=1000 + done)
        done += size
        say(f"  generated {done:,} households ({time.perf_counter() - started:.0f} s)")
    async with database.sessionmaker() as session, session.begin():
        await session.execute(text("ANALYZE"))
        people = await session.scalar(text("SELECT count(*) FROM members"))
    say(f"city: {households:,} households, {people:,} people, in {time.perf_counter() - started:.0f} s")


async def bare_aggregate(database: Database) -> float:
    """The SQL aggregate still possible over the screening's income rows (their amounts are ciphertexts): how
    many counted incomes each household has."""
    async with database.sessionmaker() as session:
        started = time.perf_counter()
        await session.execute(
            text(
                "SELECT household_id, count(*) FROM incomes WHERE NOT exempt AND period_from <= :today "
                "GROUP BY household_id"
            ),
            {"today": clock.today()},
        )
        return time.perf_counter() - started


async def decrypt_floor(database: Database, chunk: int) -> tuple[float, int]:
    """The least any screening must do now: read the same rows' ciphertexts (chunk by chunk, as the job reads
    them), decrypt them and sum them per member in Python (`batch.member_incomes`, the first half of what the
    job does per chunk before its statement). Returns the time and the rows read."""
    today, rows_read = clock.today(), 0
    async with database.sessionmaker() as session:
        top = await session.scalar(text("SELECT max(id) FROM households")) or 0
        started = time.perf_counter()
        for after in range(0, top, chunk):
            rows_read += (await batch.member_incomes(session, today, after_id=after, until_id=after + chunk))[2]
        return time.perf_counter() - started, rows_read


async def rules_only(database: Database, chunk: int) -> tuple[float, float]:
    """The rules' statement alone over the city, chunk by chunk as the job runs it, counting the hits instead of
    writing leads: how much of the screening is evaluation and how much is writing leads. Returns the time and
    the part of it spent loading the chunks' incomes (read, decrypt, sum, temporary table)."""
    today = clock.today()
    async with database.sessionmaker() as session, session.begin():
        params = await eligibility.parameters(session, CITY_CODE, today)
        top = await session.scalar(text("SELECT max(id) FROM households")) or 0
        await session.execute(text(f"SET LOCAL work_mem = '{screenings.WORK_MEM}'"))
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        started, loading = time.perf_counter(), 0.0
        for after in range(0, top, chunk):
            loading -= time.perf_counter()
            await batch.load_incomes(session, today, after_id=after, until_id=after + chunk)
            loading += time.perf_counter()
            hits = batch.hits_select(
                params,
                today,
                area_prefix="",
                after_id=after,
                until_id=after + chunk,
                exclude_prefixes=(),
                unless_receiving=True,
            ).subquery()
            await session.scalar(select(func.count()).select_from(hits))
        return time.perf_counter() - started, loading


class JobWatch:
    """What a job costs the process it runs in, watched from inside: the CPU it used, Python's full garbage
    collections (each one stops everything, requests too) and the event loop's lag (a 1 ms sleep timed over and
    over beside the job: how late the loop comes back to whatever else it serves)."""

    def __init__(self):
        self.full_collections: list[float] = []
        self.lags: list[float] = []
        self._collecting_since = 0.0

    def _on_gc(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._collecting_since = time.perf_counter()
        else:
            self.full_collections.append(time.perf_counter() - self._collecting_since)

    async def _probe(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.lags.append(time.perf_counter() - before - 0.001)

    async def run(self, job) -> tuple[float, float]:
        """Run `job`; returns (its wall time, the process's CPU time meanwhile)."""
        gc.callbacks.append(self._on_gc)
        probe = asyncio.create_task(self._probe())
        started, cpu = time.perf_counter(), time.process_time()
        try:
            await job
            return time.perf_counter() - started, time.process_time() - cpu
        finally:
            probe.cancel()
            gc.callbacks.remove(self._on_gc)

    def summary(self) -> str:
        lags = sorted(self.lags) or [0.0]
        return (
            f"{len(self.full_collections)} full garbage collections taking {sum(self.full_collections):.2f} s "
            f"(longest {max(self.full_collections, default=0) * 1000:.0f} ms); event loop lag p99 "
            f"{percentile(lags, 0.99) * 1000:.1f} ms, longest {lags[-1] * 1000:.0f} ms"
        )


async def screening(database: Database, chunk: int) -> tuple[float, int, float, JobWatch]:
    """The job as the service runs it: (time, leads, the process's CPU, what it cost the process)."""
    async with database.sessionmaker() as session, session.begin():
        job = await screenings.create_screening(session, CITY, ScreeningIn())
    watch = JobWatch()
    elapsed, cpu = await watch.run(runner.run(database, job.id, chunk=chunk))
    async with database.sessionmaker() as session:
        done = await session.get(Screening, job.id)
        if done.state != "done":
            raise RuntimeError(f"screening ended {done.state}: {done.error}")
        return elapsed, done.leads_count, cpu, watch


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, percentile(samples, 0.99) * 1000


async def latencies(
    database: Database, suite: Suite, requests: int, *, during_screening: bool = False
) -> dict[str, tuple[float, float]]:
    """p50/p99 of single requests, one at a time. With `during_screening`, a city screening is started through the
    API first and runs in the same service process meanwhile (the name of each figure then says how far it got)."""
    async with database.sessionmaker() as session:
        top = await session.scalar(text("SELECT max(id) FROM households"))
        # ID numbers are stored encrypted: read a random sample of members through the model, which decrypts.
        last_member = await session.scalar(select(func.max(Member.id)))
        sample = random.sample(range(1, last_member + 1), min(requests, last_member))
        # Not people born in the last two days: shared.idnumbers checks a birth date against the machine's date,
        # which is a day behind Asia/Shanghai's from 16:00 UTC, so a number of someone born "today" is refused.
        numbers = list(
            await session.scalars(
                select(Member.id_number).where(
                    Member.id.in_(sample), Member.birth_on < clock.today() - dt.timedelta(days=2)
                )
            )
        )
    async with httpx.AsyncClient(base_url=suite.url(), timeout=10) as client:
        token = (await client.post("/api/auth/v1/dev-tokens", json={"principal": "staff-city"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        results, screening = {}, None
        if during_screening:
            started = await client.post("/api/assistance/v1/screenings", json={}, headers=headers)
            if started.status_code != 202:
                raise RuntimeError(f"screening: {started.status_code} {started.text[:200]}")
            screening = f"/api/assistance/v1/screenings/{started.json()['id']}"

        async def progress() -> str:
            return f"{(await client.get(screening, headers=headers)).json()['progress_percent']:.0f} %"

        for name, path, bodies in (
            (
                "status lookup",
                "/api/assistance/v1/status-lookups",
                [{"id_number": numbers[i % len(numbers)]} for i in range(requests)],
            ),
            (
                "eligibility check",
                "/api/assistance/v1/eligibility-checks",
                [{"household_id": random.randint(1, top)} for _ in range(requests)],
            ),
        ):
            for body in bodies[:50]:  # warm-up
                await client.post(path, json=body, headers=headers)
            samples, begun = [], await progress() if screening else ""
            for body in bodies:
                started = time.perf_counter()
                response = await client.post(path, json=body, headers=headers)
                samples.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
            if screening:
                name += f" while a screening runs (from {begun} to {await progress()} done)"
            results[name] = percentiles(samples)
    return results


def start_suite(url: str, tmp: Path) -> Suite:
    return behind_gateway("assistance", url, tmp, service_port=SERVICE_PORT, gateway_port=GATEWAY_PORT)


async def batch_figures(database: Database, args: argparse.Namespace) -> None:
    """The two baselines, the screening job and the rules alone, with their ratios."""
    aggregate = min([await bare_aggregate(database) for _ in range(3)])
    say(f"bare aggregate done ({load()})")
    floor, rows_read = await decrypt_floor(database, args.chunk)
    say(f"read + decrypt + sum done ({load()})")
    elapsed, leads, cpu, watch = await screening(database, args.chunk)
    say(f"screening done ({load()})")
    rules, loading = await rules_only(database, args.chunk)
    say(f"rules alone done ({load()})")
    say(
        f"bare SQL aggregate over the same income rows (count per household; no SQL can sum ciphertexts): "
        f"{aggregate:.2f} s"
    )
    say(f"read {rows_read:,} ciphertexts + decrypt + sum per member in Python, chunk {args.chunk:,}: {floor:.2f} s")
    say(f"screening: {elapsed:.2f} s for {args.households:,} households ({leads:,} leads)")
    say(f"in the process that ran it: {cpu:.1f} s of CPU; {watch.summary()}")
    say(
        f"screening / bare aggregate: {elapsed / aggregate:.2f}x (target ≤ 3x); "
        f"screening / read + decrypt + sum: {elapsed / floor:.2f}x; target ≤ 30 s for 1,000,000 households"
    )
    say(
        f"of which the rules alone (hits counted, no leads written): {rules:.2f} s, "
        f"{rules / aggregate:.2f}x the bare aggregate; loading the incomes in it: {loading:.2f} s"
    )


async def main(args: argparse.Namespace) -> None:
    say(
        f"bench assistance: {args.households:,} households, database {args.database_url}, "
        f"{args.parallel_chunks} chunk(s) at once"
    )
    runner.PARALLEL_CHUNKS = args.parallel_chunks
    if not args.reuse:
        await fresh_database(args.database_url, "assistance")
    database = Database(args.database_url)
    suite = None
    try:
        if args.reuse:
            # A city built by an older revision is brought up to the code's schema first (its data stays).
            await asyncio.to_thread(migrations.upgrade, "assistance", args.database_url)
            async with database.sessionmaker() as session:
                await session.execute(text("DELETE FROM screenings"))  # their leads go with them
                await session.commit()
            # And their space back: the screening below would otherwise write its 1.3 M leads into a table and
            # indexes full of the last run's dead rows, measuring the bench's own history rather than a city.
            async with database.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE leads"))
        else:
            await build_city(database, args.households)
        if not args.latencies_only:
            await batch_figures(database, args)
        suite = await asyncio.to_thread(
            start_suite, args.database_url, Path(tempfile.mkdtemp(prefix="bench-assistance-"))
        )
        for name, (p50, p99) in (
            await latencies(database, suite, args.requests, during_screening=args.during_screening)
        ).items():
            say(f"{name} through the gateway: p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 ≤ 20 ms; {load()})")
    finally:
        if suite is not None:
            stop(suite)
        await database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="./dev bench assistance", description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=AssistanceSettings().screening_chunk)  # as the service runs
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the city already in the database (no rebuild; migrations are applied)",
    )
    parser.add_argument(
        "--parallel-chunks",
        type=int,
        default=runner.PARALLEL_CHUNKS,
        help="chunks the screening runs at once on PostgreSQL (1: one after the other)",
    )
    parser.add_argument(
        "--during-screening",
        action="store_true",
        help="measure the single requests while a city screening runs in the same service",
    )
    parser.add_argument(
        "--latencies-only",
        action="store_true",
        help="skip the screening and the aggregate (with --reuse: single requests on a built city)",
    )
    asyncio.run(main(parser.parse_args(sys.argv[1:])))
