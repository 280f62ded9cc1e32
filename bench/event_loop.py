"""Whether a service keeps answering while it does heavy work: the latency of /healthz (and the answers of
/readyz) on placenames while several of the biggest batches `/parses` allows run at once.

    ./dev bench event_loop [--batches 3] [--seconds 20] [--addresses 100000] [--database-url URL] [--baseline REV]

1. a scratch SQLite database (or --database-url, a PostgreSQL database that is EMPTIED) is migrated and gets the
   demo data and `--addresses` synthetic standard addresses (services/placenames/generate.py);
2. placenames runs as its own process on a loopback port (`python -m services.placenames`, as in production:
   uvicorn, uvloop, httptools). With `--baseline REV` the same is done first with the code of REV, checked out in
   a temporary git worktree (same database, same requests), so that the two are measured side by side;
3. warm-up (the dictionary, the road speller, the worker process), then 5 s of probes with nothing else
   running: the floor this machine allows;
4. `--batches` senders each post the biggest batch the current code allows (MAX_BATCH texts, MAX_BATCH_CHARS in
   all: a standard address as people write it, then other address text the parser reads past), again as soon
   as it is answered, for `--seconds`. Meanwhile a /healthz is sent every 10 ms and a /readyz every 100 ms,
   each without waiting for the ones before (as a prober does: a frozen process shows as many slow answers,
   not one);
5. printed per code and phase: /healthz p50/p99/longest, the /readyz answers that were not 200, the batches
   answered, this process's own event loop lag (were the probes late because of the client?), the share of
   CPU time the host took from this virtual machine (`steal`, /proc/stat), and the load average. Target:
   /healthz p99 ≤ 50 ms while the batches run. It exits 0 when it ran, whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from bench.common import HOST, free_port, fresh_database, load_average, percentile, say
from services.placenames.addresses.models import Address
from services.placenames.parsing.schemas import MAX_BATCH, MAX_BATCH_CHARS, MAX_TEXT
from services.placenames.scopes import PARSE
from shared.db import Database
from shared.identity import Principal, mint_assertion
from shared.settings import DEV_IDENTITY_SECRET

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "placenames" / "data" / "parse_set.csv"
HEALTH_EVERY_S, READY_EVERY_S = 0.010, 0.100
IDLE_S = 5.0
PARTNER = Principal(subject="bench:partner", kind="partner", scopes=frozenset({PARSE}))


def texts(addresses: list[str], count: int, length: int, seed: int) -> list[str]:
    """`count` texts of `length` characters: a standard address as people write it (the province, city or
    district left out at random), then labelled lines as text the parser must read past, cut at `length`."""
    rng = random.Random(seed)
    lines = [r["text"] for r in csv.DictReader(LABELLED.open(encoding="utf-8"))]
    out = []
    for _ in range(count):
        text = rng.choice(addresses)[rng.choice((0, 0, 3, 6)) :]
        while len(text) < length:
            text += " " + rng.choice(lines)
        out.append(text[:length])
    return out


def prepare(url: str, addresses: int) -> list[str]:
    """Migrate, load the demo data and `addresses` synthetic standard addresses; their full names."""
    env = {**os.environ, "ENV": "dev", "PLACENAMES_DATABASE_URL": url}
    if url.startswith("postgresql"):
        asyncio.run(fresh_database(url))
    quiet = {"env": env, "cwd": ROOT, "check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run([sys.executable, "-m", "services.manage", "prepare", "placenames"], **quiet)
    subprocess.run([sys.executable, "-m", "services.placenames.generate", str(addresses)], **quiet)

    async def names() -> list[str]:
        database = Database(url)
        try:
            async with database.sessionmaker() as session:
                return list(await session.scalars(select(Address.full_name).order_by(Address.id).limit(20_000)))
        finally:
            await database.dispose()

    return asyncio.run(names())


def start(source: Path, url: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "ENV": "dev",
        "LOG_LEVEL": "WARNING",
        "BIND_HOST": HOST,
        "PLACENAMES_PORT": str(port),
        "PLACENAMES_DATABASE_URL": url,
        "PYTHONPATH": str(source),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.placenames"],
            cwd=source,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"placenames exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                return process
        time.sleep(0.2)
    raise TimeoutError("placenames did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_times() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far (/proc/stat): on a virtual machine the host may take the
    CPUs away for tens of milliseconds at a time, whatever runs on them."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[7]


async def probing(client: httpx.AsyncClient, until: asyncio.Future) -> dict:
    """/healthz every 10 ms and /readyz every 100 ms, each sent without waiting for the ones before, until
    `until` is done; the latency of each /healthz, the status of each /readyz, this process's own loop lag."""
    health: list[float] = []
    ready: list[int] = []
    lags: list[float] = []

    async def probe(path: str) -> None:
        started = time.perf_counter()
        try:
            status = (await client.get(path)).status_code
        except httpx.HTTPError:
            status = 0
        if path == "/healthz":
            health.append((time.perf_counter() - started) * 1000)
        else:
            ready.append(status)

    async def lag() -> None:  # were the probes late because of this process? Then the figures mean nothing.
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - before - 0.001) * 1000)

    lagging = asyncio.create_task(lag())
    before, started = cpu_times(), time.perf_counter()
    probes, tick = [], 0
    while not until.done():
        probes.append(asyncio.create_task(probe("/healthz")))
        if tick % round(READY_EVERY_S / HEALTH_EVERY_S) == 0:
            probes.append(asyncio.create_task(probe("/readyz")))
        tick += 1
        await asyncio.sleep(HEALTH_EVERY_S)
    wall, after = time.perf_counter() - started, cpu_times()
    await asyncio.gather(*probes)
    lagging.cancel()
    await until
    return {
        "wall": wall,
        "health": health,
        "ready": ready,
        "client lag": lags,
        "steal": (after[1] - before[1]) / max(after[0] - before[0], 1),
    }


async def measure(port: int, batches: list[list[str]], seconds: float) -> dict[str, dict]:
    headers = {
        "X-Identity-Assertion": mint_assertion(PARTNER, audience="placenames", secret=DEV_IDENTITY_SECRET),
        "Content-Type": "application/json",
    }
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    # Encoded before the clock starts: this process's own event loop must stay free to send the probes.
    bodies = [json.dumps({"texts": b}, ensure_ascii=False).encode() for b in batches]

    async def parse(body: bytes) -> None:
        response = await client.post("/api/placenames/v1/parses", content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"/parses answered {response.status_code}: {response.text[:300]}")

    async def sender(body: bytes, until: float) -> int:
        """The same batch again as soon as it is answered, until the time is up: how many were answered."""
        sent = 0
        while time.perf_counter() < until:
            await parse(body)
            sent += 1
        return sent

    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=120, limits=limits) as client:
        # Warm-up: the dictionary and the road speller are built on first use, worker processes started on
        # demand; that is not what is measured. Then the probes with nothing else running: the machine's floor.
        await asyncio.gather(*(parse(json.dumps({"texts": b[:50]}).encode()) for b in batches))
        idle = await probing(client, asyncio.ensure_future(asyncio.sleep(IDLE_S)))
        until = time.perf_counter() + seconds
        senders = asyncio.ensure_future(asyncio.gather(*(sender(b, until) for b in bodies)))
        loaded = await probing(client, senders)
        loaded["answered"] = sum(senders.result())
    return {"idle": idle, "batches": loaded}


def report(name: str, result: dict) -> str:
    health, ready = sorted(result["health"]), result["ready"]
    not_ready = sum(1 for s in ready if s != 200)
    return (
        f"{name:20} {result['wall']:6.2f} s {percentile(health, 0.5):7.1f} ms {percentile(health, 0.99):7.1f} ms "
        f"{health[-1]:7.1f} ms {len(health):6}   {not_ready:3} of {len(ready):<3} not 200  "
        f"{percentile(sorted(result['client lag']), 0.99):6.1f} ms {result['steal']:6.1%}"
        + (f"   {result['answered']} batches answered" if "answered" in result else "")
    )


def worktree(rev: str, into: Path) -> Path:
    path = into / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT, check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench event_loop")
    parser.add_argument("--batches", type=int, default=3, help="biggest allowed /parses batches sent at once")
    parser.add_argument(
        "--seconds",
        type=float,
        default=20,
        help="each batch sent again as soon as it is answered, for this long (the last one answered after it)",
    )
    parser.add_argument("--database-url", default="", help="a scratch PostgreSQL database (EMPTIED); default SQLite")
    parser.add_argument("--baseline", metavar="REV", help="also run the code of this git revision, first")
    parser.add_argument("--addresses", type=int, default=100_000, help="synthetic standard addresses to match")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-event-loop-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'placenames.db'}"
    sources = {"current": ROOT}
    try:
        addresses = prepare(url, args.addresses)
        if args.baseline:
            sources = {args.baseline[:10]: worktree(args.baseline, tmp), **sources}
        length = min(MAX_TEXT, MAX_BATCH_CHARS // MAX_BATCH)
        batches = [texts(addresses, MAX_BATCH, length, seed) for seed in range(args.batches)]
        say(
            f"{args.batches} batches at once of {MAX_BATCH} texts × {length} characters, each sent again when "
            f"answered, for {args.seconds:.0f} s; /healthz every "
            f"{HEALTH_EVERY_S * 1000:.0f} ms, /readyz every {READY_EVERY_S * 1000:.0f} ms; "
            f"{'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}"
        )
        results = {}
        for name, source in sources.items():
            port = free_port()
            process = start(source, url, port, tmp / f"{name}.log")
            try:
                load = load_average()
                results[name] = asyncio.run(measure(port, batches, args.seconds))
                say(f"{name}: load average {load} before, {load_average()} after")
            finally:
                stop(process)
        say(
            f"{'code, while':20} {'for':>8} {'healthz p50':>10} {'p99':>10} {'longest':>10} {'probes':>6}   "
            f"{'readyz':21} {'client lag p99':>14} {'steal':>6}"
        )
        for name, result in results.items():
            for phase, figures in result.items():
                say(report(f"{name}, {phase}", figures))
        say(
            "target: /healthz p99 ≤ 50 ms while the batches run. `idle` is the same probing with nothing else "
            "running: the floor this machine allows; `steal` is the share of CPU time the host took."
        )
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "baseline")], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
