"""Eldercare's scheduled jobs (services/eldercare/jobs.py), run by a worker as the clock moves on: a lapsed bed
offer passes to the next person, a visit nobody checked in to becomes missed, the month's allowances are granted
once across the city; a failed run is retried and its error can be read at /jobs."""

from __future__ import annotations

import datetime as dt

import pytest

from services.eldercare import jobs
from services.eldercare.jobs import tasks
from shared import clock
from shared.jobs import Every
from tests.conftest import staff
from tests.eldercare import test_beds as beds
from tests.eldercare.test_homecare import (
    HAISHU,
    TOMORROW_9,
    YINZHOU,
    add_allowance,
    add_caregiver,
    add_service,
    scheduled_visit,
)
from tests.eldercare.test_meals import API, add_elder
from tests.jobs import run_jobs

JOBS_READER = staff("330200", "eldercare.jobs:read", subject="staff:city")


@pytest.fixture(autouse=True)
def moving_clock():
    try:
        yield
    finally:
        clock.reset()


def move_to(moment: dt.datetime) -> None:
    clock.advance(moment - clock.now())


async def get(client, path: str, who=JOBS_READER, **params) -> dict:
    response = await client.get(f"{API}{path}", headers=client.as_(who), params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def jobs_of(client, task: str) -> list[dict]:
    return (await get(client, "/jobs", task=task))["items"]


async def test_a_lapsed_offer_passes_to_the_next_person_at_the_next_slot(client):
    institution = await beds.add_institution(client)
    [bed_id] = await beds.add_beds(client, institution["id"], "nursing")
    first_id, _ = await add_elder(client, serial="101")
    second_id, _ = await add_elder(client, serial="111")
    first = await beds.join(client, first_id, assessment_level=4)  # the bed is free: offered at once
    second = await beds.join(client, second_id, assessment_level=2)
    entry = await get(client, f"/waitlist/{first['id']}", beds.YINZHOU)
    assert entry["status"] == "offered"
    deadline = dt.datetime.fromisoformat(entry["offer_expires_at"])

    move_to(deadline - dt.timedelta(minutes=1))
    assert ("waitlist.settle", "succeeded") in await run_jobs(client.app, tasks)
    assert (await get(client, f"/waitlist/{second['id']}", beds.YINZHOU))["status"] == "waiting"

    # Past the deadline, the first slot to start after it passes the bed on; nobody called /waitlist/settle.
    move_to(Every(5).slot(deadline) + dt.timedelta(minutes=5, seconds=10))
    assert ("waitlist.settle", "succeeded") in await run_jobs(client.app, tasks)
    assert (await get(client, f"/waitlist/{first['id']}", beds.YINZHOU))["status"] == "lapsed"
    passed_on = await get(client, f"/waitlist/{second['id']}", beds.YINZHOU)
    assert passed_on["status"] == "offered"
    assert (await get(client, f"/bed-holds/{passed_on['offer_id']}", beds.YINZHOU))["bed_id"] == bed_id
    assert (await jobs_of(client, "waitlist.settle"))[-1]["result"] == {"holds_lapsed": 1, "offers_made": 1}


async def missable_visit(client) -> tuple[dict, dict]:
    """Two visits booked for tomorrow, at 09:00 and at noon."""
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client)
    visit = await scheduled_visit(client, elder_id, item["id"], caregiver["id"])
    later = await scheduled_visit(client, elder_id, item["id"], caregiver["id"], TOMORROW_9 + dt.timedelta(hours=3))
    return visit, later


async def visit_status(client, visit: dict) -> str:
    return (await get(client, f"/visits/{visit['id']}", YINZHOU))["status"]


async def test_a_visit_with_no_check_in_becomes_missed_30_minutes_after_its_start(client):
    visit, later = await missable_visit(client)
    move_to(TOMORROW_9 + dt.timedelta(minutes=29))
    assert ("visits.mark_missed", "succeeded") in await run_jobs(client.app, tasks)
    assert await visit_status(client, visit) == "scheduled"

    move_to(TOMORROW_9 + dt.timedelta(minutes=31))
    assert ("visits.mark_missed", "succeeded") in await run_jobs(client.app, tasks)
    assert (await visit_status(client, visit), await visit_status(client, later)) == ("missed", "scheduled")
    assert (await jobs_of(client, "visits.mark_missed"))[-1]["result"] == {"marked_missed": 1}


async def open_account(client, elder_id: int, who) -> dict:
    response = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(who), json={"elder_id": elder_id, "level": 3}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_each_account_in_the_city_is_granted_the_month_once_on_the_first(client):
    await add_allowance(client, amount=10000)  # city-wide
    yinzhou, _ = await add_elder(client)
    haishu, _ = await add_elder(client, area="330203001", serial="021", who=HAISHU)
    accounts = [await open_account(client, yinzhou, YINZHOU), await open_account(client, haishu, HAISHU)]
    local = clock.now().astimezone(clock.SHANGHAI)
    next_first = (local.replace(day=1) + dt.timedelta(days=32)).replace(
        day=1, hour=0, minute=30, second=0, microsecond=0
    )
    month = next_first.strftime("%Y-%m")

    move_to(next_first + dt.timedelta(minutes=1))
    assert ("subsidies.grant_month", "succeeded") in await run_jobs(client.app, tasks)
    [granted] = await jobs_of(client, "subsidies.grant_month")
    assert granted["result"] == {"month": month, "accounts_credited": 2, "total_fen": 20000}

    # The same slot again: not enqueued twice, and a run of it (a job taken over from a dead worker) credits nothing.
    assert ("subsidies.grant_month", "succeeded") not in await run_jobs(client.app, tasks)
    async with client.app.state.database.sessionmaker() as session, session.begin():
        again = await tasks.enqueue(session, "subsidies.grant_month", {"slot": next_first.isoformat()})
    assert await run_jobs(client.app, tasks) == [("subsidies.grant_month", "succeeded")]
    assert (await get(client, f"/jobs/{again}"))["result"] == {"month": month, "accounts_credited": 0, "total_fen": 0}
    for account, who in zip(accounts, (YINZHOU, HAISHU), strict=False):
        assert (await get(client, f"/subsidy-accounts/{account['id']}", who))["balance_fen"] == 10000
        entries = (await get(client, f"/subsidy-accounts/{account['id']}/entries", who))["items"]
        assert [(e["kind"], e["month"], e["amount_fen"]) for e in entries] == [("allowance", month, 10000)]


async def test_a_failed_run_is_retried_after_a_pause_and_its_error_is_kept(client, monkeypatch):
    visit, _ = await missable_visit(client)
    calls = []

    async def dropped_once(session, principal):
        calls.append(principal.subject)
        if len(calls) == 1:
            raise ConnectionResetError("the database connection was reset")
        return await real(session, principal)

    real = jobs.mark_missed
    monkeypatch.setattr(jobs, "mark_missed", dropped_once)
    move_to(TOMORROW_9 + dt.timedelta(minutes=31))
    assert ("visits.mark_missed", "queued") in await run_jobs(client.app, tasks)  # back in the queue, to retry
    [job] = await jobs_of(client, "visits.mark_missed")
    assert (job["status"], job["attempts"]) == ("queued", 1)
    assert job["last_error"] == "ConnectionResetError: the database connection was reset"
    assert await visit_status(client, visit) == "scheduled"

    clock.advance(dt.timedelta(seconds=11))  # the pause before the second attempt
    assert ("visits.mark_missed", "succeeded") in await run_jobs(client.app, tasks)
    retried = await get(client, f"/jobs/{job['id']}")
    assert (retried["status"], retried["attempts"], retried["result"]) == ("succeeded", 2, {"marked_missed": 1})
    assert retried["last_error"] == "ConnectionResetError: the database connection was reset"  # kept for the record
    assert calls == ["system:eldercare-worker"] * 2
    assert await visit_status(client, visit) == "missed"
    # Reading jobs is for city staff and auditors.
    assert (await client.get(f"{API}/jobs/{job['id']}", headers=client.as_(YINZHOU))).status_code == 403
