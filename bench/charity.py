"""Charity: donation throughput, a large payroll batch, and a reconciliation over many ledger entries.

    ./dev bench charity --database-url postgresql://postgres@127.0.0.1:5432/SCRATCH
                        [--duration 10] [--concurrency 100] [--pool 10] [--rounds 2]
                        [--payroll-rows 100000] [--ledger-entries 1000000]
    ./dev bench charity --through in-process [--donations 2000] [--concurrency 20] ...   (SQLite without a URL)

1. Donations, on PostgreSQL through the gateway (the default with `--database-url`): the charity service and
   the gateway run as their own processes on loopback (ports 18303 and 18300, a temp dir for the gateway's
   database and the logs, rate limits on but out of reach), and wrk POSTs /api/charity/v1/donations with a
   staff bearer token and a fresh Idempotency-Key and channel transaction each, `--concurrency` connections
   for `--duration` seconds, after a warm-up: donations/s, p50, p99. In the same run, alternating with it,
   a raw asyncpg loop does the same SQL work per donation (one transaction: the group, its two entries, its
   seal through the balance trigger, the donation row) on as many connections as the service's pool may
   open, and the ratio service/raw is printed. `--rounds` repeats the pair; medians are reported.
   `--through in-process` instead sends `--donations` requests to the app through ASGI (no network, no
   gateway): this is the mode on SQLite.
2. Payroll: one CSV batch of `--payroll-rows` rows with control totals, timed end to end (target <= 10 s).
3. Reconciliation: the ledger is filled to `--ledger-entries` entries (balanced, sealed donation groups and
   their donation rows, written in bulk by SQL), then POST /reconciliations is timed.

The database is a fresh SQLite file in a temp dir unless `--database-url` names a PostgreSQL database,
which the bench WIPES (DROP SCHEMA public CASCADE): give it a scratch database only. wrk is installed from
Debian's packages when missing (as `./dev bench gateway` does). The load average is printed at the start
and the end: the machine is small and shared. It is a benchmark, not a test: it exits 0 when it ran,
whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text

from bench.common import CpuMeter, behind_gateway, load_average, percentile, stop
from services.charity.main import create_app
from services.charity.settings import CharitySettings
from shared import clock, migrations
from shared.areas import CITY_CODE
from shared.db import make_engine
from shared.identity import Principal, mint_assertion

API = "/api/charity/v1"
CLERK = Principal(
    subject="bench",
    kind="staff",
    area=CITY_CODE,
    scopes=frozenset(
        {
            "charity.organizations:write",
            "charity.projects:write",
            "charity.projects:read",
            "charity.donations:write",
            "charity.ledger:read",
            "charity.campaigns:write",
            "charity.campaigns:upload",
        }
    ),
)


async def reset(url: str) -> None:
    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(migrations.upgrade, "charity", url)


async def setup(client: httpx.AsyncClient, headers: dict) -> dict:
    from stdnum.cn import uscc

    body = "51330200MJ7777777"
    org = (
        await client.post(
            f"{API}/organizations",
            headers=headers,
            json={
                "name": "基准测试慈善会",
                "unified_social_credit_code": body + uscc.calc_check_digit(body),
                "registered_on": "2010-01-01",
                "district_code": CITY_CODE,
                # placenames is not started: the domicile is kept as pending, in the district.
                "address": "海曙区解放南路208号",
                "is_charity": True,
                "recognised_on": "2011-01-01",
                "contact_name": "测试",
                "contact_phone": "13800000000",
            },
        )
    ).json()
    await client.post(
        f"{API}/organizations/{org['id']}/fundraising-qualification", headers=headers, json={"granted_on": "2012-01-01"}
    )
    today = clock.today()
    project = (
        await client.post(
            f"{API}/projects",
            headers=headers,
            json={
                "organization_id": org["id"],
                "title": "基准项目",
                "summary": "bench",
                "beneficiaries": "bench",
                # Directed (定向募捐): filed today, the day it is created, with no 10-day filing clock before it starts.
                "public_fundraising": False,
                "target_fen": 10**12,
                "starts_on": (today.replace(day=1)).isoformat(),
                "ends_on": today.replace(year=today.year + 1).isoformat(),
                "budget_lines": [{"name": "全部", "amount_fen": 10**12}],
            },
        )
    ).json()
    await client.post(f"{API}/projects/{project['id']}/filing", headers=headers, json={})
    await client.post(f"{API}/projects/{project['id']}/start-fundraising", headers=headers)
    return project


async def donations(client, headers, project_id: int, count: int, concurrency: int) -> None:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            started = time.perf_counter()
            response = await client.post(
                f"{API}/donations",
                headers=headers() | {"Idempotency-Key": f"bench-{n}"},
                json={
                    "project_id": project_id,
                    "channel": "wechat",
                    "channel_txn_id": f"bench-{n}",
                    "amount_fen": 100 + n % 900,
                    "donor": {"kind": "anonymous"},
                },
            )
            assert response.status_code == 201, response.text
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    elapsed = time.perf_counter() - started
    print(
        f"donations: {count} in {elapsed:.1f} s = {count / elapsed:.0f}/s, "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms "
        f"(in-process, concurrency {concurrency})"
    )


# ---- donations through the gateway, next to raw asyncpg -----------------------------------------------


# One request per call: a fresh channel transaction and Idempotency-Key, unique across threads and runs.
WRK_SCRIPT = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end
function init(args)
  run, project, token = args[1], args[2], args[3]
  counter = 0
end
function request()
  counter = counter + 1
  local txn = string.format("%s-%d-%d", run, thread_no, counter)
  local body = string.format('{"project_id": %s, "channel": "wechat", "channel_txn_id": "%s", '
    .. '"amount_fen": %d, "donor": {"kind": "anonymous"}}', project, txn, 100 + counter % 900)
  return wrk.format("POST", "/api/charity/v1/donations", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token, ["Idempotency-Key"] = txn}, body)
end
"""


def ensure_wrk() -> str:
    from bench.gateway import find_tool

    if find_tool("wrk") is None:
        if os.geteuid() != 0:
            raise SystemExit("bench: wrk not found; install it first, e.g. `sudo apt-get install wrk`")
        print("bench: wrk not found; installing it from Debian's packages …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    return find_tool("wrk")


def start_suite(url: str, tmp: Path, pool: int):
    """The charity service and the gateway on free loopback ports (other benches and tests run at once)."""
    return behind_gateway("charity", url, tmp, env={"CHARITY_DB_POOL_SIZE": str(pool)})


def wrk_donations(
    wrk: str,
    script: Path,
    gateway: str,
    run: str,
    project_id: int,
    token: str,
    seconds: float,
    connections: int,
):
    """wrk's result, with the share of 201s in `ok_rps` and `answered`."""
    from bench.gateway import parse_wrk

    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"{gateway}/api/charity/v1/donations",
        "--",
        run,
        str(project_id),
        token,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr.strip()}")
    parsed = parse_wrk(result.stdout)
    answered = max(1, parsed.requests - parsed.non_2xx)
    parsed.ok_rps = parsed.rps * (parsed.requests - parsed.non_2xx) / max(1, parsed.requests)  # 201s only
    parsed.answered = answered
    return parsed


async def raw_donations(
    url: str, project_id: int, seconds: float, concurrency: int, connections: int, run: str, meter: CpuMeter
) -> tuple[float, float, float, int, dict[str, float]]:
    """The same SQL work per donation, by hand on asyncpg: one transaction with the group, its two entries,
    its seal (the balance trigger runs) and the donation row. Returns (per second, p50 ms, p99 ms, count,
    CPU ms per donation of this process and of PostgreSQL, measured before the pool's sessions end)."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool = await asyncpg.create_pool(plain, min_size=1, max_size=connections)
    try:
        async with pool.acquire() as connection:
            org_id = await connection.fetchval("SELECT organization_id FROM projects WHERE id = $1", project_id)
            fund = await connection.fetchval("SELECT id FROM ledger_accounts WHERE project_id = $1", project_id)
            clearing = await connection.fetchval(
                "SELECT id FROM ledger_accounts WHERE kind = 'clearing' AND organization_id = $1", org_id
            )
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        counter = 0

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < deadline:
                counter += 1
                n = counter
                started = time.perf_counter()
                async with pool.acquire() as connection, connection.transaction():
                    group = await connection.fetchval(
                        "INSERT INTO ledger_groups (kind, organization_id, project_id, memo, created_by, created_at) "
                        "VALUES ('donation', $1, $2, $3, 'bench', now()) RETURNING id",
                        org_id,
                        project_id,
                        f"wechat {run}-{n}",
                    )
                    amount = 100 + n % 900
                    await connection.execute(
                        "INSERT INTO ledger_entries (group_id, account_id, amount_fen) VALUES ($1, $2, $3), "
                        "($1, $4, $5)",
                        group,
                        clearing,
                        -amount,
                        fund,
                        amount,
                    )
                    await connection.execute(
                        "INSERT INTO ledger_seals (group_id, entry_count, sealed_at) VALUES ($1, 2, now())", group
                    )
                    await connection.fetchval(
                        "INSERT INTO donations (project_id, organization_id, channel, channel_txn_id, amount_fen, "
                        "donor_kind, honour_opt_in, donated_at, ledger_group_id, recorded_by, created_at) "
                        "VALUES ($1, $2, 'wechat', $3, $4, 'anonymous', false, now(), $5, 'bench', now()) "
                        "RETURNING id",
                        project_id,
                        org_id,
                        f"{run}-{n}",
                        amount,
                        group,
                    )
                latencies.append((time.perf_counter() - started) * 1000)

        before = await meter.sample()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        spent = CpuMeter.spent(before, await meter.sample())
    finally:
        await pool.close()
    return (
        len(latencies) / elapsed,
        statistics.median(latencies),
        percentile(latencies, 0.99),
        len(latencies),
        {name: seconds * 1000 / max(1, len(latencies)) for name, seconds in spent.items()},
    )


async def through_gateway(args: argparse.Namespace, url: str, project_id: int) -> None:
    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="bench-charity-"))
    script = tmp / "donate.lua"
    script.write_text(WRK_SCRIPT)
    suite = await asyncio.to_thread(start_suite, url, tmp, args.pool)
    try:
        gateway = suite.url()
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            token = (await client.post("/api/auth/v1/dev-tokens", json={"principal": "staff-city"})).json()
        token = token["access_token"]
        connections = args.pool * 2  # the service's pool: pool_size plus as many overflow connections
        # CPU per donation of each process, PostgreSQL's for the bench's database included (bench.common.CpuMeter);
        # wrk's is not counted (a C load generator, a small share), nor on the raw side this process's own.
        service_meter = CpuMeter({name: suite.processes[name].pid for name in ("charity", "gateway")}, url)
        raw_meter = CpuMeter({"client": os.getpid()}, url)
        await asyncio.to_thread(wrk_donations, wrk, script, gateway, "warm", project_id, token, 3, args.concurrency)
        await raw_donations(url, project_id, 2, args.concurrency, connections, "raw-warm", raw_meter)
        service, raw = [], []
        for n in range(args.rounds):
            before = await service_meter.sample()
            result = await asyncio.to_thread(
                wrk_donations, wrk, script, gateway, f"gw{n}", project_id, token, args.duration, args.concurrency
            )
            spent = CpuMeter.spent(before, await service_meter.sample())
            result.cpu_ms = {name: seconds * 1000 / result.answered for name, seconds in spent.items()}
            if result.non_2xx or result.socket_errors:
                print(
                    f"  round {n + 1}: {result.non_2xx} non-2xx answers, {result.socket_errors} socket errors "
                    f"(see {suite.log_dir})"
                )
            service.append(result)
            raw.append(
                await raw_donations(url, project_id, args.duration, args.concurrency, connections, f"raw{n}", raw_meter)
            )
            print(
                f"  round {n + 1}: gateway {result.ok_rps:.0f}/s (p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms), raw asyncpg {raw[-1][0]:.0f}/s (p50 {raw[-1][1]:.1f} ms, "
                f"p99 {raw[-1][2]:.1f} ms)",
                flush=True,
            )
    finally:
        stop(suite)
    engine = make_engine(url)
    async with engine.connect() as connection:
        recorded = (
            await connection.execute(text("SELECT count(*) FROM donations WHERE channel_txn_id LIKE 'gw%'"))
        ).scalar_one()
    await engine.dispose()
    answered = sum(r.requests - r.non_2xx for r in service)
    rate = statistics.median(r.ok_rps for r in service)
    failed = sum(r.non_2xx + r.socket_errors for r in service)
    raw_rate = statistics.median(r[0] for r in raw)
    print(
        f"donations through the gateway: {rate:.0f}/s, p50 {statistics.median(r.p50_ms for r in service):.1f} ms, "
        f"p99 {statistics.median(r.p99_ms for r in service):.1f} ms (median of {args.rounds} rounds of "
        f"{args.duration:g} s, {args.concurrency} connections; target >= 1,000/s, p99 <= 100 ms)"
    )
    print(
        f"raw asyncpg, same inserts: {raw_rate:.0f}/s, p50 {statistics.median(r[1] for r in raw):.1f} ms, "
        f"p99 {statistics.median(r[2] for r in raw):.1f} ms ({args.concurrency} tasks on {args.pool * 2} "
        f"connections)"
    )
    print(f"service/raw ratio: {rate / raw_rate:.2f}")
    if failed:
        print(
            f"NOT ALL ANSWERED: {failed} non-2xx answers or socket errors (not counted in the rate; wrk's "
            f"latencies include them); see {suite.log_dir}"
        )
    cpu = {name: statistics.median(r.cpu_ms.get(name, 0.0) for r in service) for name in service[0].cpu_ms}
    raw_cpu = {name: statistics.median(r[4].get(name, 0.0) for r in raw) for name in raw[0][4]}
    # On cores the processes share and keep busy, throughput is at most cores / CPU per donation: the ratio of the
    # two sides' totals is the throughput ratio's ceiling, whatever the waits.
    print(
        "CPU per donation (median of rounds): service "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items())
        + f", {sum(cpu.values()):.2f} ms in all; raw "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in raw_cpu.items())
        + f", {sum(raw_cpu.values()):.2f} ms in all; ceiling of the throughput ratio "
        f"{sum(raw_cpu.values()) / sum(cpu.values()):.2f}"
    )
    print(f"donations recorded by the service: {recorded} ({answered} answered 201 or replayed)")


async def payroll(client, headers, project_id: int, rows: int) -> None:
    today = clock.today()
    campaign = (
        await client.post(
            f"{API}/campaigns",
            headers=headers,
            json={
                "name": "基准一日捐",
                "area_code": CITY_CODE,
                "project_id": project_id,
                "starts_on": today.isoformat(),
                "ends_on": today.isoformat(),
            },
        )
    ).json()
    from stdnum.cn import uscc

    body = "11330200MB0000001"
    unit = (
        await client.post(
            f"{API}/campaigns/{campaign['id']}/units",
            headers=headers,
            json={
                "name": "基准单位",
                "credit_code": body + uscc.calc_check_digit(body),
                "district_code": CITY_CODE,
                "headcount": rows,
            },
        )
    ).json()
    lines = ["employee_no,name,amount"] + [f"E{n:07d},,{(n % 500) + 1}.00" for n in range(rows)]
    total = sum(((n % 500) + 1) * 100 for n in range(rows))
    started = time.perf_counter()
    response = await client.post(
        f"{API}/campaigns/{campaign['id']}/units/{unit['id']}/batches",
        content=("\n".join(lines) + "\n").encode(),
        params={"batch_no": "B1", "control_rows": rows, "control_total_fen": total},
        headers=headers | {"content-type": "text/csv"},
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text[:500]
    print(f"payroll batch: {rows} rows imported in {elapsed:.1f} s (target <= 10 s)")


async def fill_ledger(url: str, project_id: int, entries: int) -> None:
    """Balanced two-entry donation groups written by SQL in bulk (the seal trigger checks each one)."""
    engine = make_engine(url)
    groups = entries // 2
    async with engine.begin() as connection:
        accounts = dict(
            (
                await connection.execute(
                    text(
                        "SELECT kind, id FROM ledger_accounts WHERE project_id = :p OR (kind = 'clearing' AND organization_id = "
                        "(SELECT organization_id FROM projects WHERE id = :p))"
                    ),
                    {"p": project_id},
                )
            ).all()
        )
        org_id = (
            await connection.execute(text("SELECT organization_id FROM projects WHERE id = :p"), {"p": project_id})
        ).scalar_one()
        first = (await connection.execute(text("SELECT coalesce(max(id), 0) FROM ledger_groups"))).scalar_one()
        if url.startswith("postgresql"):
            await connection.execute(
                text(
                    "INSERT INTO ledger_groups (id, kind, organization_id, project_id, memo, created_by, created_at) "
                    "SELECT :f + g, 'donation', :o, :p, 'bench', 'bench', now() FROM generate_series(1, :n) g"
                ),
                {"f": first, "o": org_id, "p": project_id, "n": groups},
            )
            await connection.execute(
                text("SELECT setval(pg_get_serial_sequence('ledger_groups', 'id'), :m)"), {"m": first + groups}
            )
            await connection.execute(
                text(
                    "INSERT INTO ledger_entries (group_id, account_id, amount_fen) "
                    "SELECT :f + g, a.account, a.sign * 100 FROM generate_series(1, :n) g, "
                    "(VALUES (CAST(:c AS integer), -1), (CAST(:pa AS integer), 1)) AS a(account, sign)"
                ),
                {"f": first, "n": groups, "c": accounts["clearing"], "pa": accounts["project"]},
            )
            await connection.execute(
                text(
                    "INSERT INTO ledger_seals (group_id, entry_count, sealed_at) "
                    "SELECT :f + g, 2, now() FROM generate_series(1, :n) g"
                ),
                {"f": first, "n": groups},
            )
        else:
            await connection.execute(
                text(
                    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
                    "INSERT INTO ledger_groups (id, kind, organization_id, project_id, memo, created_by, created_at) "
                    "SELECT :f + n, 'donation', :o, :p, 'bench', 'bench', CURRENT_TIMESTAMP FROM g"
                ),
                {"f": first, "o": org_id, "p": project_id, "n": groups},
            )
            await connection.execute(
                text(
                    "INSERT INTO ledger_entries (group_id, account_id, amount_fen) "
                    "SELECT id, :c, -100 FROM ledger_groups WHERE id > :f UNION ALL "
                    "SELECT id, :pa, 100 FROM ledger_groups WHERE id > :f"
                ),
                {"f": first, "c": accounts["clearing"], "pa": accounts["project"]},
            )
            await connection.execute(
                text(
                    "INSERT INTO ledger_seals (group_id, entry_count, sealed_at) "
                    "SELECT id, 2, CURRENT_TIMESTAMP FROM ledger_groups WHERE id > :f"
                ),
                {"f": first},
            )
        # The business records behind the groups, so the reconciliation compares like with like.
        await connection.execute(
            text(
                "INSERT INTO donations (project_id, organization_id, channel, channel_txn_id, amount_fen, donor_kind, "
                "honour_opt_in, donated_at, ledger_group_id, recorded_by, created_at) "
                "SELECT :p, :o, 'bank', 'bench-fill-' || id, 100, 'anonymous', false, created_at, id, 'bench', created_at "
                "FROM ledger_groups WHERE id > :f"
            ),
            {"p": project_id, "o": org_id, "f": first},
        )
    await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-charity-')}/charity.db"
    url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    through = args.through or ("gateway" if url.startswith("postgresql") else "in-process")
    if through == "gateway" and not url.startswith("postgresql"):
        raise SystemExit("bench: --through gateway needs --database-url of a scratch PostgreSQL database")
    print(f"database: {url.split('@')[-1]}; load average {load_average()}", flush=True)
    await reset(url)
    settings = CharitySettings(database_url=url, env="test", db_pool_size=args.pool)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://charity", timeout=600) as client,
    ):

        def headers() -> dict:  # the identity assertion lives 60 s: a fresh one per request
            return {"X-Identity-Assertion": mint_assertion(CLERK, audience="charity", secret=settings.identity_secret)}

        project = await setup(client, headers())
        if through == "gateway":
            await through_gateway(args, url, project["id"])
        else:
            await donations(client, headers, project["id"], args.donations, args.concurrency)
        await payroll(client, headers(), project["id"], args.payroll_rows)
        async with app.state.database.sessionmaker() as session:
            have = int(await session.scalar(text("SELECT count(*) FROM ledger_entries")))
        started = time.perf_counter()
        await fill_ledger(url, project["id"], max(0, args.ledger_entries - have))
        print(
            f"ledger filled to about {args.ledger_entries} entries in {time.perf_counter() - started:.1f} s", flush=True
        )
        if url.startswith("postgresql"):
            async with app.state.database.sessionmaker() as session:
                await session.execute(text("ANALYZE"))
                await session.commit()
        started = time.perf_counter()
        response = await client.post(f"{API}/reconciliations", headers=headers())
        elapsed = time.perf_counter() - started
        run_ = response.json()
        print(
            f"reconciliation: {run_['entries_checked']} entries, {run_['groups_checked']} groups in "
            f"{elapsed:.1f} s, balanced={run_['balanced']} "
            f"{sorted({d['kind'] for d in run_['differences']})}"
        )
    print(f"end: load average {load_average()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench charity")
    parser.add_argument(
        "--database-url", help="a scratch PostgreSQL database (it is wiped); default: SQLite in a temp dir"
    )
    parser.add_argument(
        "--through",
        choices=("gateway", "in-process"),
        help="how donations are sent; default: gateway on PostgreSQL, in-process on SQLite",
    )
    parser.add_argument("--donations", type=int, default=2000, help="in-process: how many")
    parser.add_argument("--duration", type=float, default=10, help="gateway: seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="gateway: rounds of service then raw asyncpg")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--pool",
        type=int,
        default=10,
        help="the service's pool size (as many again may overflow); the raw loop gets the same number of connections",
    )
    parser.add_argument("--payroll-rows", type=int, default=100_000)
    parser.add_argument("--ledger-entries", type=int, default=1_000_000)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
