"""Charity: donation throughput, a large payroll batch, and a reconciliation over many ledger entries.

    ./dev bench charity [--database-url URL] [--donations 2000] [--concurrency 20]
                        [--payroll-rows 100000] [--ledger-entries 1000000]

In-process (the app through ASGI, no network, no gateway): this measures the service and its database,
not the gateway's hop, which `./dev bench gateway` measures on its own.

1. Donations: `--donations` POST /donations with Idempotency-Keys, `--concurrency` at a time; rate, p50, p99.
2. Payroll: one CSV batch of `--payroll-rows` rows with control totals, timed end to end (target <= 10 s).
3. Reconciliation: the ledger is filled to `--ledger-entries` entries (balanced, sealed donation groups and
   their donation rows, written in bulk by SQL), then POST /reconciliations is timed.

The database is a fresh SQLite file in a temp dir unless `--database-url` names a PostgreSQL database,
which the bench WIPES (DROP SCHEMA public CASCADE): give it a scratch database only.
It is a benchmark, not a test: it exits 0 when it ran, whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import httpx
from sqlalchemy import text

from services.charity.main import create_app
from services.charity.settings import CharitySettings
from shared import clock, migrations
from shared.db import make_engine
from shared.identity import Principal, mint_assertion

API = "/api/charity/v1"
CLERK = Principal(subject="bench", kind="staff", area="330200", scopes=frozenset({
    "charity.organizations:write", "charity.projects:write", "charity.projects:read", "charity.donations:write",
    "charity.ledger:read", "charity.campaigns:write", "charity.campaigns:upload"}))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


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
    org = (await client.post(f"{API}/organizations", headers=headers, json={
        "name": "基准测试慈善会", "unified_social_credit_code": body + uscc.calc_check_digit(body),
        "registered_on": "2010-01-01", "district_code": "330200", "is_charity": True, "recognised_on": "2011-01-01",
        "contact_name": "测试", "contact_phone": "13800000000"})).json()
    await client.post(f"{API}/organizations/{org['id']}/fundraising-qualification", headers=headers,
                      json={"granted_on": "2012-01-01"})
    today = clock.today()
    project = (await client.post(f"{API}/projects", headers=headers, json={
        "organization_id": org["id"], "title": "基准项目", "summary": "bench", "beneficiaries": "bench",
        "public_fundraising": True, "target_fen": 10**12, "starts_on": (today.replace(day=1)).isoformat(),
        "ends_on": today.replace(year=today.year + 1).isoformat(),
        "budget_lines": [{"name": "全部", "amount_fen": 10**12}]})).json()
    filed_on = today.replace(day=1).toordinal() - 20
    await client.post(f"{API}/projects/{project['id']}/filing", headers=headers,
                      json={"filed_on": type(today).fromordinal(filed_on).isoformat()})
    await client.post(f"{API}/projects/{project['id']}/start-fundraising", headers=headers)
    return project


async def donations(client, headers, project_id: int, count: int, concurrency: int) -> None:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            started = time.perf_counter()
            response = await client.post(f"{API}/donations", headers=headers() | {"Idempotency-Key": f"bench-{n}"},
                                         json={"project_id": project_id, "channel": "wechat",
                                               "channel_txn_id": f"bench-{n}", "amount_fen": 100 + n % 900,
                                               "donor": {"kind": "anonymous"}})
            assert response.status_code == 201, response.text
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    elapsed = time.perf_counter() - started
    print(f"donations: {count} in {elapsed:.1f} s = {count / elapsed:.0f}/s, "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms "
          f"(in-process, concurrency {concurrency})")


async def payroll(client, headers, project_id: int, rows: int) -> None:
    today = clock.today()
    campaign = (await client.post(f"{API}/campaigns", headers=headers, json={
        "name": "基准一日捐", "area_code": "330200", "project_id": project_id, "starts_on": today.isoformat(),
        "ends_on": today.isoformat()})).json()
    from stdnum.cn import uscc
    body = "11330200MB0000001"
    unit = (await client.post(f"{API}/campaigns/{campaign['id']}/units", headers=headers, json={
        "name": "基准单位", "credit_code": body + uscc.calc_check_digit(body), "district_code": "330200",
        "headcount": rows})).json()
    lines = ["employee_no,name,amount"] + [f"E{n:07d},,{(n % 500) + 1}.00" for n in range(rows)]
    total = sum(((n % 500) + 1) * 100 for n in range(rows))
    started = time.perf_counter()
    response = await client.post(f"{API}/campaigns/{campaign['id']}/units/{unit['id']}/batches",
                                 content=("\n".join(lines) + "\n").encode(),
                                 params={"batch_no": "B1", "control_rows": rows, "control_total_fen": total},
                                 headers=headers | {"content-type": "text/csv"})
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text[:500]
    print(f"payroll batch: {rows} rows imported in {elapsed:.1f} s (target <= 10 s)")


async def fill_ledger(url: str, project_id: int, entries: int) -> None:
    """Balanced two-entry donation groups written by SQL in bulk (the seal trigger checks each one)."""
    engine = make_engine(url)
    groups = entries // 2
    async with engine.begin() as connection:
        accounts = dict((await connection.execute(text(
            "SELECT kind, id FROM ledger_accounts WHERE project_id = :p OR (kind = 'clearing' AND organization_id = "
            "(SELECT organization_id FROM projects WHERE id = :p))"), {"p": project_id})).all())
        org_id = (await connection.execute(text("SELECT organization_id FROM projects WHERE id = :p"),
                                           {"p": project_id})).scalar_one()
        first = (await connection.execute(text("SELECT coalesce(max(id), 0) FROM ledger_groups"))).scalar_one()
        if url.startswith("postgresql"):
            await connection.execute(text(
                "INSERT INTO ledger_groups (id, kind, organization_id, project_id, memo, created_by, created_at) "
                "SELECT :f + g, 'donation', :o, :p, 'bench', 'bench', now() FROM generate_series(1, :n) g"),
                {"f": first, "o": org_id, "p": project_id, "n": groups})
            await connection.execute(text("SELECT setval(pg_get_serial_sequence('ledger_groups', 'id'), :m)"),
                                     {"m": first + groups})
            await connection.execute(text(
                "INSERT INTO ledger_entries (group_id, account_id, amount_fen) "
                "SELECT :f + g, a.account, a.sign * 100 FROM generate_series(1, :n) g, "
                "(VALUES (CAST(:c AS integer), -1), (CAST(:pa AS integer), 1)) AS a(account, sign)"),
                {"f": first, "n": groups, "c": accounts["clearing"], "pa": accounts["project"]})
            await connection.execute(text(
                "INSERT INTO ledger_seals (group_id, entry_count, sealed_at) "
                "SELECT :f + g, 2, now() FROM generate_series(1, :n) g"), {"f": first, "n": groups})
        else:
            await connection.execute(text(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
                "INSERT INTO ledger_groups (id, kind, organization_id, project_id, memo, created_by, created_at) "
                "SELECT :f + n, 'donation', :o, :p, 'bench', 'bench', CURRENT_TIMESTAMP FROM g"),
                {"f": first, "o": org_id, "p": project_id, "n": groups})
            await connection.execute(text(
                "INSERT INTO ledger_entries (group_id, account_id, amount_fen) "
                "SELECT id, :c, -100 FROM ledger_groups WHERE id > :f UNION ALL "
                "SELECT id, :pa, 100 FROM ledger_groups WHERE id > :f"),
                {"f": first, "c": accounts["clearing"], "pa": accounts["project"]})
            await connection.execute(text(
                "INSERT INTO ledger_seals (group_id, entry_count, sealed_at) "
                "SELECT id, 2, CURRENT_TIMESTAMP FROM ledger_groups WHERE id > :f"), {"f": first})
        # The business records behind the groups, so the reconciliation compares like with like.
        await connection.execute(text(
            "INSERT INTO donations (project_id, organization_id, channel, channel_txn_id, amount_fen, donor_kind, "
            "honour_opt_in, donated_at, ledger_group_id, recorded_by, created_at) "
            "SELECT :p, :o, 'bank', 'bench-fill-' || id, 100, 'anonymous', false, created_at, id, 'bench', created_at "
            "FROM ledger_groups WHERE id > :f"), {"p": project_id, "o": org_id, "f": first})
    await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-charity-')}/charity.db"
    url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    print(f"database: {url.split('@')[-1]}")
    await reset(url)
    settings = CharitySettings(database_url=url, env="test", db_pool_size=args.concurrency)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://charity",
                                     timeout=600) as client:
            def headers() -> dict:  # the identity assertion lives 60 s: a fresh one per request
                return {"X-Identity-Assertion": mint_assertion(CLERK, audience="charity",
                                                               secret=settings.identity_secret)}

            project = await setup(client, headers())
            await donations(client, headers, project["id"], args.donations, args.concurrency)
            await payroll(client, headers(), project["id"], args.payroll_rows)
            have = args.donations * 2 + 2
            started = time.perf_counter()
            await fill_ledger(url, project["id"], max(0, args.ledger_entries - have))
            print(f"ledger filled to about {args.ledger_entries} entries in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            response = await client.post(f"{API}/reconciliations", headers=headers())
            elapsed = time.perf_counter() - started
            run_ = response.json()
            print(f"reconciliation: {run_['entries_checked']} entries, {run_['groups_checked']} groups in "
                  f"{elapsed:.1f} s, balanced={run_['balanced']} "
                  f"{sorted({d['kind'] for d in run_['differences']})}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench charity")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (it is wiped); default: SQLite in a "
                        "temp dir")
    parser.add_argument("--donations", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--payroll-rows", type=int, default=100_000)
    parser.add_argument("--ledger-entries", type=int, default=1_000_000)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
