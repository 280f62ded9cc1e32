"""Assistance at city scale: screening against a bare aggregate, the screening in one and in several worker
processes, and single checks and status lookups through the gateway, idle and while a screening runs.

    ./dev bench assistance [--households 1000000] [--generate N] [--requests 2000] [--chunk 20000]
                           [--workers 1 2] [--worker-niceness 0 10] [--database-url URL] [--reuse]

1. builds a synthetic city in its own PostgreSQL database (default `assistance_bench` on 127.0.0.1:5432,
   created when missing, wiped at the start) with the generator of `tools.data.assistance_generate`; with
   `--generate N`, or `--reuse` of a smaller city, the households beyond those generated are copies of them made
   in SQL (`copy_households`: new ids and people, the same figures);
2. times what can be done over the same income rows without the rules, then the whole screening job exactly as
   one worker runs it (chunks, leads; in this process, to watch what it costs the process), and prints its ratio
   to each. Incomes are stored encrypted, so no SQL can sum them any more; the two baselines are (a) the SQL
   aggregate still possible over the same rows (count of counted incomes per household) and (b) the least any
   screening must now do: read the same rows' ciphertexts chunk by chunk, decrypt them and sum them per member in
   Python. Then the rules alone (hits counted, no leads written; of which loading the chunks' incomes), to show
   how the time splits between evaluating and writing leads;
3. runs the screening as the suite does, in worker processes (`python -m services.assistance.worker`), once with
   each number of workers of `--workers` sharing its chunks (discovery/runner.py), and prints each one's time and
   its ratio to one worker's;
4. starts the assistance service and the gateway on free loopback ports (the gateway's rate limits
   out of reach, its own throw-away database) and measures p50/p99 of single eligibility checks and status
   lookups, one request at a time, with a demo token: idle, then while a city screening started through the API
   runs in the worker processes (once for each number of `--workers`, and each of their `--worker-niceness` in
   turn), and prints the ratio of the two p99s (target ≤ 1.5×) and the screening's time meanwhile;
5. stops what it started. It is a benchmark, not a test: it exits 0 when it ran, whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from bench.common import behind_gateway, free_port, fresh_database, percentile, say, stop
from services.assistance import seed
from services.assistance.discovery import batch, flows, runner, screenings
from services.assistance.discovery.models import Screening
from services.assistance.discovery.schemas import ScreeningIn
from services.assistance.eligibility import rules
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Member
from services.assistance.settings import AssistanceSettings
from shared import clock, migrations
from shared.areas import CITY_CODE
from shared.db import Database
from shared.identity import Principal
from shared.settings import ROOT
from tools.data.assistance_generate import copy_households, generate
from tools.devserver import Suite

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
    await analyze(database, households, started)


async def grow_city(database: Database, households: int) -> None:
    """The city grown to `households` by copies, in SQL, of the households it holds (copy_households)."""
    started = time.perf_counter()
    async with database.sessionmaker() as session:
        held = await session.scalar(text("SELECT count(*) FROM households"))
    if held >= households:
        return
    while held < households:
        async with database.sessionmaker() as session, session.begin():
            copied = await copy_households(session, households - held)
        if copied == 0:  # an empty city has nothing to copy: say so rather than loop for ever
            raise SystemExit(f"bench: the database holds no household to copy up to {households:,}")
        held += copied
        say(f"  copied up to {held:,} households ({time.perf_counter() - started:.0f} s)")
    await analyze(database, held, started)


async def analyze(database: Database, households: int, started: float) -> None:
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
            rows_read += (
                await batch.member_incomes(
                    session, today, period_months=rules.DEFAULT_INCOME_MONTHS, after_id=after, until_id=after + chunk
                )
            )[2]
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
            await batch.load_incomes(
                session, today, period_months=rules.income_months(params), after_id=after, until_id=after + chunk
            )
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


async def screening(database: Database, chunk: int, in_flight: int) -> tuple[float, int, float, JobWatch]:
    """The job as the service runs it: (time, leads, the process's CPU, what it cost the process)."""
    async with database.sessionmaker() as session, session.begin():
        job = await screenings.create_screening(session, CITY, ScreeningIn())
    watch = JobWatch()
    elapsed, cpu = await watch.run(runner.run(database, job.id, chunk=chunk, in_flight=in_flight))
    async with database.sessionmaker() as session:
        done = await session.get(Screening, job.id)
        if done.state != "done":
            raise RuntimeError(f"screening ended {done.state}: {done.error}")
        return elapsed, done.leads_count, cpu, watch


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, percentile(samples, 0.99) * 1000


class Workers:
    """`count` worker processes of the assistance service on the bench's database, as the suite runs them; their
    helper jobs are `count - 1` per screening, so all of them share it."""

    def __init__(self, url: str, count: int, tmp: Path, gateway_port: int, niceness: int | None = None):
        """`gateway_port`: placenames' change feed is read through the gateway there, whose placenames upstream
        is a closed port. `niceness`: their WORKER_NICENESS (None: the setting's default)."""
        self.tmp, self.processes, self.niceness = tmp, [], niceness
        env = os.environ | {
            "ENV": "dev",
            "LOG_LEVEL": "WARNING",
            "ASSISTANCE_DATABASE_URL": url,
            "ASSISTANCE_SCREENING_WORKERS": str(count),
            "GATEWAY_PORT": str(gateway_port),
        }
        if niceness is not None:
            env["WORKER_NICENESS"] = str(niceness)
        tmp.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            with open(tmp / f"worker-{i}.log", "ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services.assistance.worker"],
                        env=env | {"WORKER_HEARTBEAT_FILE": str(tmp / f"worker-{i}.heartbeat")},
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    async def ready(self, timeout: float = 60) -> None:
        """Each has begun its loop (touched its heartbeat file): their start is not part of the screening."""
        deadline = time.monotonic() + timeout
        for i, process in enumerate(self.processes):
            while not (self.tmp / f"worker-{i}.heartbeat").exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    # Its log goes with the bench's temporary directory: its end is in the error.
                    log = (self.tmp / f"worker-{i}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"worker {i} did not start (exit {process.poll()}):\n{log}")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def clear_screenings(database: Database) -> None:
    """The screenings before, and their leads, gone and their space back: each screening writes its 1.3 M leads
    into a table as fresh as the first one's."""
    async with database.sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM screenings"))  # their leads and chunks go with them
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE leads"))


async def screening_state(database: Database, screening_id: int) -> tuple[str, float]:
    async with database.sessionmaker() as session:
        state, processed, total = (
            await session.execute(
                select(Screening.state, Screening.processed_households, Screening.total_households).where(
                    Screening.id == screening_id
                )
            )
        ).one()
        return state, 100 * processed / max(1, total)


async def wait_done(database: Database, screening_id: int) -> None:
    while (state := await screening_state(database, screening_id))[0] != "done":
        if state[0] == "failed":
            raise RuntimeError(f"screening {screening_id} failed")
        await asyncio.sleep(0.1)


async def in_workers(database: Database, url: str, count: int, tmp: Path) -> tuple[float, int]:
    """A city screening enqueued as POST /screenings does and run by `count` worker processes: (its time from the
    enqueue to done, the leads)."""
    await clear_screenings(database)
    workers = Workers(url, count, tmp / f"workers-{count}", gateway_port=free_port())  # nothing listens there
    try:
        await workers.ready()
        async with database.sessionmaker() as session, session.begin():
            job = await flows.start_screening(session, CITY, ScreeningIn())
        started = time.perf_counter()
        await wait_done(database, job.id)
        elapsed = time.perf_counter() - started
    finally:
        workers.stop()
    async with database.sessionmaker() as session:
        return elapsed, (await session.get(Screening, job.id)).leads_count


async def latencies(
    database: Database, suite: Suite, requests: int, *, screening_workers: Workers | None = None
) -> tuple[dict[str, tuple[float, float]], str]:
    """p50/p99 of single requests, one at a time, status lookups and eligibility checks in turn. With
    `screening_workers`, a city screening is started through the API first and the requests are sent while it
    runs in those workers, until it is done or `requests` of each were sent. Returns the figures and what ran
    meanwhile."""
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
    kinds = (
        ("status lookup", "/api/assistance/v1/status-lookups", lambda i: {"id_number": numbers[i % len(numbers)]}),
        (
            "eligibility check",
            "/api/assistance/v1/eligibility-checks",
            lambda i: {"household_id": random.randint(1, top)},
        ),
    )
    async with httpx.AsyncClient(base_url=suite.url(), timeout=10) as client:
        token = (await client.post("/api/auth/v1/dev-tokens", json={"principal": "staff-city"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for _name, path, body in kinds:
            for i in range(50):  # warm-up
                await client.post(path, json=body(i), headers=headers)
        screening_id, screening_started, meanwhile = None, 0.0, "idle"
        if screening_workers is not None:
            await screening_workers.ready()
            started = await client.post("/api/assistance/v1/screenings", json={}, headers=headers)
            if started.status_code != 202:
                raise RuntimeError(f"screening: {started.status_code} {started.text[:200]}")
            screening_id, screening_started = started.json()["id"], time.perf_counter()
            await asyncio.sleep(1)  # past its start (chunks written, ANALYZE): the requests meet the chunks
        samples: dict[str, list[float]] = {name: [] for name, _, _ in kinds}
        begun = await screening_state(database, screening_id) if screening_id else None
        for i in range(requests):
            for name, path, body in kinds:
                sent = time.perf_counter()
                response = await client.post(path, json=body(i), headers=headers)
                samples[name].append(time.perf_counter() - sent)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
            if screening_id and i % 25 == 24 and (await screening_state(database, screening_id))[0] == "done":
                break
        if screening_id and begun:
            state, percent = await screening_state(database, screening_id)
            await wait_done(database, screening_id)
            niceness = "" if screening_workers.niceness is None else f" at niceness {screening_workers.niceness}"
            meanwhile = (
                f"while a screening runs in {len(screening_workers.processes)} worker(s){niceness}, "
                f"from {begun[1]:.0f} % to {percent:.0f} % ({state}; the screening took "
                f"{time.perf_counter() - screening_started:.1f} s)"
            )
    return {name: percentiles(values) for name, values in samples.items()}, meanwhile


def start_suite(url: str, tmp: Path) -> Suite:
    tmp.mkdir(parents=True, exist_ok=True)
    # Free ports, not fixed ones: another session's bench on the same machine answered this one's requests once.
    return behind_gateway("assistance", url, tmp)


async def batch_figures(database: Database, args: argparse.Namespace) -> None:
    """The two baselines, the screening job and the rules alone, with their ratios."""
    aggregate = min([await bare_aggregate(database) for _ in range(3)])
    say(f"bare aggregate done ({load()})")
    floor, rows_read = await decrypt_floor(database, args.chunk)
    say(f"read + decrypt + sum done ({load()})")
    elapsed, leads, cpu, watch = await screening(database, args.chunk, args.parallel_chunks)
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


async def worker_figures(database: Database, args: argparse.Namespace, tmp: Path) -> None:
    """The screening as the suite runs it, in 1, 2 … worker processes sharing its chunks."""
    times = {}
    for count in args.workers:
        times[count], leads = await in_workers(database, args.database_url, count, tmp)
        say(
            f"screening in {count} worker process(es): {times[count]:.2f} s for {args.households:,} households "
            f"({leads:,} leads; {load()})"
        )
    first = args.workers[0]
    for count in args.workers[1:]:
        say(f"{count} workers / {first}: {times[count] / times[first]:.2f}x the time")


async def main(args: argparse.Namespace) -> None:
    say(
        f"bench assistance: {args.households:,} households, database {args.database_url}, "
        f"{args.parallel_chunks} chunk(s) at once per worker, workers {', '.join(map(str, args.workers))}"
    )
    os.environ["ASSISTANCE_SCREENING_CHUNKS_IN_FLIGHT"] = str(args.parallel_chunks)  # the worker processes' too
    if not args.reuse:
        await fresh_database(args.database_url, "assistance")
    database = Database(args.database_url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-assistance-"))
    suite = None
    try:
        if args.reuse:
            # A city built by an older revision is brought up to the code's schema first (its data stays).
            await asyncio.to_thread(migrations.upgrade, "assistance", args.database_url)
        else:
            await build_city(database, min(args.households, args.generate or args.households))
        await grow_city(database, args.households)
        # The screenings of a run before, and their space back: the screening below would otherwise write its
        # 1.3 M leads into a table and indexes full of the last run's dead rows, measuring the bench's own history
        # rather than a city.
        await clear_screenings(database)
        if not args.latencies_only:
            await batch_figures(database, args)
            await worker_figures(database, args, tmp)
            await clear_screenings(database)
        if args.screening_only:
            return
        suite = await asyncio.to_thread(start_suite, args.database_url, tmp / "suite")
        idle, _ = await latencies(database, suite, args.requests)
        for count, niceness in [(c, n) for c in args.workers for n in args.worker_niceness or [None]]:
            await clear_screenings(database)
            workers = Workers(
                args.database_url, count, tmp / f"latencies-{count}-{niceness}", suite.port("gateway"), niceness
            )
            try:
                during, meanwhile = await latencies(database, suite, args.requests, screening_workers=workers)
            finally:
                workers.stop()
            for name, (p50, p99) in idle.items():
                busy_p50, busy_p99 = during[name]
                say(
                    f"{name} through the gateway: idle p50 {p50:.1f} ms, p99 {p99:.1f} ms; {meanwhile}: "
                    f"p50 {busy_p50:.1f} ms, p99 {busy_p99:.1f} ms; p99 ratio {busy_p99 / p99:.2f}x "
                    f"(target ≤ 1.5x; {load()})"
                )
    finally:
        if suite is not None:
            stop(suite)
        shutil.rmtree(tmp, ignore_errors=True)
        await database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="./dev bench assistance", description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument(
        "--generate",
        type=int,
        help="households to generate in Python (default: all of --households); the rest are copies of them made "
        "in SQL, new people with the same figures (a 5 M city in minutes rather than hours)",
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=AssistanceSettings().screening_chunk)  # as the service runs
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the city already in the database (no rebuild; migrations are applied); one holding fewer "
        "than --households is grown to it by copies of its households",
    )
    parser.add_argument(
        "--parallel-chunks",
        type=int,
        default=AssistanceSettings().screening_chunks_in_flight,
        help="chunks each screening job runs at once on PostgreSQL (1: one after the other)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="numbers of worker processes to run the screening in, one run each (and one run each beside the "
        "single requests)",
    )
    parser.add_argument(
        "--worker-niceness",
        type=int,
        nargs="+",
        help="the workers' WORKER_NICENESS beside the single requests, one run each per number of workers, in turn "
        "(default: the setting's default, once)",
    )
    parser.add_argument(
        "--screening-only", action="store_true", help="skip the single requests (the screening figures only)"
    )
    parser.add_argument(
        "--latencies-only",
        action="store_true",
        help="skip the screening figures and the aggregate (with --reuse: single requests on a built city, idle "
        "and during a screening)",
    )
    asyncio.run(main(parser.parse_args(sys.argv[1:])))
