"""The charity worker's jobs: the nightly reconciliation (对账) of the whole city's ledger."""

import datetime as dt

from sqlalchemy import text

from services.charity.jobs import tasks
from shared import clock
from shared.jobs import Daily
from tests.charity.factories import API, CITY, HAISHU, donate, project
from tests.conftest import staff
from tests.jobs import run_jobs

JOBS = f"{API}/jobs"


async def hand_typed_group(client, created: dict, donation: dict, amount_fen: int) -> int:
    """A ledger group written past the service, unsealed and unbalanced: what a reconciliation must find."""
    async with client.app.state.database.sessionmaker() as session:
        account = (
            (
                await session.execute(
                    text("SELECT account_id FROM ledger_entries WHERE group_id = :g"),
                    dict(g=donation["ledger_group_id"]),
                )
            )
            .scalars()
            .first()
        )
        group = (
            await session.execute(
                text(
                    "INSERT INTO ledger_groups (kind, organization_id, project_id, memo, created_by, created_at) "
                    "VALUES ('donation', :o, :p, 'hand-typed', 'test', CURRENT_TIMESTAMP) RETURNING id"
                ),
                dict(o=created["organization_id"], p=created["id"]),
            )
        ).scalar_one()
        await session.execute(
            text("INSERT INTO ledger_entries (group_id, account_id, amount_fen) VALUES (:g, :a, :n)"),
            dict(g=group, a=account, n=amount_fen),
        )
        await session.commit()
    return group


async def ledger_jobs(client) -> list[tuple[str, str]]:
    """The jobs run now, but for the standardisation of addresses (its own schedule, every 5 minutes)."""
    return [job for job in await run_jobs(client.app, tasks) if job[0] != "addresses.standardise"]


async def nightly_runs(client) -> list[dict]:
    listed = await client.get(JOBS, params={"task": "ledger.reconcile"}, headers=client.as_(CITY))
    assert listed.status_code == 200, listed.text
    return [job["result"] for job in listed.json()["items"]]


async def test_the_ledger_is_reconciled_city_wide_every_night_at_two(client, moved_clock):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-night", 1_000)
    assert await ledger_jobs(client) == [("ledger.reconcile", "succeeded")]  # last night's, due now
    [last_night] = await nightly_runs(client)
    assert last_night["balanced"] is True
    # A group typed in by hand, unsealed and unbalanced, is found the next night, not before.
    group = await hand_typed_group(client, created, donation, 700)
    assert await ledger_jobs(client) == []  # once a night
    night = Daily(dt.time(2, 0)).slot(clock.now()) + dt.timedelta(days=1)
    moved_clock(night - clock.now() + dt.timedelta(minutes=1))
    assert await ledger_jobs(client) == [("ledger.reconcile", "succeeded")]
    tonight = (await nightly_runs(client))[1]
    assert (tonight["balanced"], tonight["differences"]) == (False, 1)
    run = await client.get(f"{API}/reconciliations/{tonight['reconciliation_id']}", headers=client.as_(CITY))
    assert run.status_code == 200, run.text
    kept = run.json()
    assert (kept["area_code"], kept["balanced"]) == ("330200", False)
    assert [(d["kind"], d["group_id"], d["sum_fen"], d["sealed"]) for d in kept["differences"]] == [
        ("unbalanced_group", group, 700, False)
    ]
    # A city-wide run: a district's staff do not see it.
    assert (await client.get(f"{API}/reconciliations/{kept['id']}", headers=client.as_(HAISHU))).status_code == 404


async def test_jobs_are_followed_with_their_read_scope_and_cancelled_with_their_write_scope(client):
    ledger_reader = staff("330212", "charity.ledger:read", subject="staff:yinzhou-ledger")
    assert (await client.get(JOBS, headers=client.as_(ledger_reader))).status_code == 403
    auditor = staff("330200", "charity.jobs:read", subject="auditor:city")
    assert (await client.get(JOBS, headers=client.as_(auditor))).status_code == 200
    assert await ledger_jobs(client) == [("ledger.reconcile", "succeeded")]
    listed = await client.get(JOBS, params={"task": "ledger.reconcile"}, headers=client.as_(CITY))
    [job] = listed.json()["items"]
    assert (job["status"], job["progress"], job["attempts"]) == ("succeeded", 100, 1)
    assert (await client.post(f"{JOBS}/{job['id']}/cancel", headers=client.as_(auditor))).status_code == 403
    assert (await client.post(f"{JOBS}/{job['id']}/cancel", headers=client.as_(CITY))).status_code == 409


async def test_differences_found_by_the_nightly_run_are_an_alert_in_the_citys_indicators(client, moved_clock):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-alert", 1_000)
    assert await ledger_jobs(client) == [("ledger.reconcile", "succeeded")]
    [quiet] = [i for i in (await client.get(f"{API}/indicators")).json()["items"] if i["code"] == "ledger_differences"]
    assert (quiet["value"], quiet["alert"], quiet["area"]) == (0, False, "330200")
    await hand_typed_group(client, created, donation, 9)
    night = Daily(dt.time(2, 0)).slot(clock.now()) + dt.timedelta(days=1)
    moved_clock(night - clock.now() + dt.timedelta(minutes=1))
    assert await ledger_jobs(client) == [("ledger.reconcile", "succeeded")]
    [alert] = [i for i in (await client.get(f"{API}/indicators")).json()["items"] if i["code"] == "ledger_differences"]
    assert (alert["value"], alert["alert"]) == (1, True)
    # A district's indicators carry only its own runs' findings (the nightly run is the city's).
    district = (await client.get(f"{API}/indicators", params={"district": "330203"})).json()["items"]
    assert not [i for i in district if i["code"] == "ledger_differences"]
