"""Leads worked to an end: closed once with an outcome and a reason, listed with filters, and not raised again by
the next screening while the facts behind them are the same."""

from __future__ import annotations

import asyncio
import datetime as dt

from services.assistance import seed
from services.assistance.jobs import tasks
from services.assistance.programmes import service as programmes
from shared import clock
from shared.identity import Principal
from tests.assistance.helpers import household, member
from tests.assistance.test_screening import in_public_notice
from tests.conftest import staff
from tests.jobs import run_jobs

API = "/api/assistance/v1"
HOUSEHOLDS = ("assistance.households:read", "assistance.households:write")
LEADS = ("assistance.leads:read", "assistance.leads:write")
COMMUNITY = staff(
    "330212001005",
    *HOUSEHOLDS,
    *LEADS,
    "assistance.applications:write",
    "assistance.applications:read",
    "assistance.screenings:run",
    subject="staff:baizhang-sq",
)
HAISHU = staff("330203", *HOUSEHOLDS, *LEADS, subject="staff:haishu")
YIBAO = Principal(subject="partner:yibao", kind="partner", scopes=frozenset({"assistance.signals:write"}))


async def load_policies(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()


async def household_with_leads(client, signal_id="YB-1") -> tuple[int, list[dict]]:
    """A couple in their seventies, no income, one with a grade-1 disability: a signal opens 低保, 特困 and
    disability leads for them."""
    body = household(
        member(age=72, labour_capacity="none"),
        member("spouse", age=70, labour_capacity="none", disability_grade=1, disability_kind="physical"),
    )
    created = await client.post(f"{API}/households", json=body, headers=client.as_(COMMUNITY))
    assert created.status_code == 201, created.text
    sent = await client.post(
        f"{API}/signals",
        headers=client.as_(YIBAO),
        json={
            "signal_id": signal_id,
            "kind": "medical_bill",
            "id_number": body["members"][0]["id_number"],
            "occurred_on": "2024-06-01",
            "amount_fen": 8_000_000,
        },
    )
    assert sent.status_code == 201 and sent.json()["leads"], sent.text
    return created.json()["id"], sent.json()["leads"]


def closure(lead_id: int) -> str:
    return f"{API}/leads/{lead_id}/closure"


async def test_a_lead_is_closed_once_with_its_outcome_and_the_application(client):
    await load_policies(client)
    household_id, leads = await household_with_leads(client)
    dibao = next(lead for lead in leads if lead["programme"] == "dibao")
    headers = client.as_(COMMUNITY)
    application = await client.post(
        f"{API}/applications", json={"household_id": household_id, "programme": "dibao"}, headers=headers
    )
    assert application.status_code == 201, application.text
    other_household, _ = await household_with_leads(client, signal_id="YB-2")
    elsewhere = await client.post(
        f"{API}/applications", json={"household_id": other_household, "programme": "dibao"}, headers=headers
    )

    for body, field in (
        ({"outcome": "applied", "reason": "已受理"}, "application_id"),
        ({"outcome": "applied", "reason": "已受理", "application_id": elsewhere.json()["id"]}, "application_id"),
        ({"outcome": "applied", "reason": "已受理", "application_id": 99_999}, "application_id"),
        ({"outcome": "declined", "reason": "本人拒绝", "application_id": application.json()["id"]}, "application_id"),
        ({"outcome": "moved_away", "reason": "搬走了"}, "outcome"),
        ({"outcome": "declined", "reason": ""}, "reason"),
    ):
        refused = await client.post(closure(dibao["id"]), json=body, headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, (body, refused.text)
    assert (
        await client.post(
            closure(dibao["id"]), json={"outcome": "declined", "reason": "本人拒绝"}, headers=client.as_(HAISHU)
        )
    ).status_code == 404
    assert (
        await client.post(
            closure(dibao["id"]),
            json={"outcome": "declined", "reason": "本人拒绝"},
            headers=client.as_(staff("330212", "assistance.leads:read")),
        )
    ).status_code == 403

    closed = await client.post(
        closure(dibao["id"]),
        headers=headers,
        json={"outcome": "applied", "reason": "入户核实后当场受理", "application_id": application.json()["id"]},
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["state"] == "closed" and body["closure"]["outcome"] == "applied"
    assert body["closure"]["application_id"] == application.json()["id"]
    assert body["closure"]["closed_by"] == "staff:baizhang-sq" and body["closure"]["reason"] == "入户核实后当场受理"

    again = await client.post(closure(dibao["id"]), json={"outcome": "duplicate", "reason": "重复"}, headers=headers)
    assert again.status_code == 409 and f"leads/{dibao['id']}" in again.text
    assert (await client.get(f"{API}/leads/{dibao['id']}", headers=headers)).json()["closure"]["outcome"] == "applied"


async def test_leads_are_listed_with_filters_within_the_area(client):
    await load_policies(client)
    household_id, leads = await household_with_leads(client)
    headers = client.as_(COMMUNITY)
    first, second = leads[0], leads[1]
    assert (
        await client.post(closure(first["id"]), json={"outcome": "not_eligible", "reason": "有赡养人"}, headers=headers)
    ).status_code == 200
    assert (
        await client.post(
            closure(second["id"]), json={"outcome": "duplicate", "reason": "与另一线索重复"}, headers=headers
        )
    ).status_code == 200

    async def ids(principal=COMMUNITY, **params):
        listed = await client.get(f"{API}/leads", params=params, headers=client.as_(principal))
        assert listed.status_code == 200, listed.text
        return [lead["id"] for lead in listed.json()["items"]]

    everything = [lead["id"] for lead in leads]
    assert await ids() == sorted(everything)
    assert await ids(state="closed") == sorted([first["id"], second["id"]])
    assert await ids(state="open") == sorted(set(everything) - {first["id"], second["id"]})
    assert await ids(outcome="duplicate") == [second["id"]]
    assert await ids(programme=first["programme"], state="closed") == [first["id"]]
    assert await ids(household_id=household_id, area="330212001") == sorted(everything)
    assert await ids(area="330212002") == []
    assert await ids(HAISHU) == []
    paged = await client.get(f"{API}/leads", params={"limit": 1}, headers=headers)
    assert len(paged.json()["items"]) == 1 and paged.json()["next_cursor"]
    assert (await client.get(f"{API}/leads", params={"outcome": "lost"}, headers=headers)).status_code == 422


async def test_two_workers_closing_one_lead_at_once_leave_one_closure(committed_client):
    client = committed_client
    await load_policies(client)
    _, leads = await household_with_leads(client)
    lead_id = leads[0]["id"]
    responses = await asyncio.gather(
        *(
            client.post(
                closure(lead_id),
                json={"outcome": outcome, "reason": f"worker {i}"},
                headers=client.as_(staff("330212001005", *LEADS, subject=f"staff:worker-{i}")),
            )
            for i, outcome in enumerate(["declined", "not_eligible"] * 5)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1 and set(statuses) == {200, 409}, statuses
    winner = next(r.json() for r in responses if r.status_code == 200)
    stored = (await client.get(f"{API}/leads/{lead_id}", headers=client.as_(COMMUNITY))).json()
    assert stored["closure"] == winner["closure"]


async def screening_leads(client, principal=COMMUNITY) -> set[tuple]:
    started = await client.post(f"{API}/screenings", json={}, headers=client.as_(principal))
    assert started.status_code == 202, started.text
    screening_id = started.json()["id"]
    await run_jobs(client.app, tasks)  # the worker runs it
    state = (await client.get(f"{API}/screenings/{screening_id}", headers=client.as_(principal))).json()["state"]
    assert state == "done"
    listed = await client.get(
        f"{API}/leads", params={"screening_id": screening_id, "limit": 100}, headers=client.as_(principal)
    )
    return {(lead["household_id"], lead["programme"], lead["member_id"]) for lead in listed.json()["items"]}


async def working_couple(client) -> tuple[int, int]:
    """The policies, and a household of two people of working age with no income yet: (household, applicant)."""
    await load_policies(client)
    created = await client.post(
        f"{API}/households", json=household(member(age=45), member("spouse", age=44)), headers=client.as_(COMMUNITY)
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["members"][0]["id"]


async def add_income(client, household_id: int, member_id: int, kind: str, fen: int) -> None:
    """Last month's income of `kind` (also its item), from the human resources department: the month a screening of
    today assesses."""
    last_month = (clock.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    added = await client.post(
        f"{API}/households/{household_id}/incomes",
        headers=client.as_(COMMUNITY),
        json={
            "member_id": member_id,
            "kind": kind,
            "item": kind,
            "amount_fen": fen,
            "period_from": last_month,
            "period_to": last_month,
            "source": {"kind": "department", "name": "市人力社保局", "obtained_on": clock.today().isoformat()},
        },
    )
    assert added.status_code == 201, added.text


async def test_a_closed_lead_is_not_raised_again_on_the_same_facts(committed_client):
    client = committed_client
    household_id, applicant = await working_couple(client)

    async def add_wages(fen: int):
        await add_income(client, household_id, applicant, "wages", fen)

    await add_wages(100_000)  # 1,000 yuan for two: under the 低保 standard
    first = await screening_leads(client)
    assert (household_id, "dibao", None) in first
    listed = await client.get(
        f"{API}/leads", params={"household_id": household_id, "programme": "dibao"}, headers=client.as_(COMMUNITY)
    )
    [lead] = listed.json()["items"]
    closed = await client.post(
        closure(lead["id"]), json={"outcome": "declined", "reason": "本人不愿申请"}, headers=client.as_(COMMUNITY)
    )
    assert closed.status_code == 200, closed.text

    assert (household_id, "dibao", None) not in await screening_leads(client)
    await add_wages(20_000)  # new facts: the household's income changed, still under the standard
    assert (household_id, "dibao", None) in await screening_leads(client)


async def test_a_household_in_public_notice_gets_no_signal_lead_for_it_and_staff_see_why(client):
    await load_policies(client)
    body = household(
        member(age=72, labour_capacity="none"),
        member("spouse", age=70, labour_capacity="none", disability_grade=1, disability_kind="physical"),
    )
    created = await client.post(f"{API}/households", json=body, headers=client.as_(COMMUNITY))
    household_id, (husband, wife) = created.json()["id"], [m["id"] for m in created.json()["members"]]
    noticed = await in_public_notice(client, household_id, "dibao")
    async with client.app.state.database.sessionmaker() as session:
        await programmes.enrol(
            session,
            id_number=body["members"][1]["id_number"],
            household_id=household_id,
            programme="disability_care_subsidy",
            since_on=dt.date(2024, 1, 1),
            monthly_fen=10_000,
            basis="test",
        )
        await session.commit()

    sent = await client.post(
        f"{API}/signals",
        headers=client.as_(YIBAO),
        json={
            "signal_id": "YB-NOTICE",
            "kind": "medical_bill",
            "id_number": body["members"][0]["id_number"],
            "occurred_on": "2024-06-01",
            "amount_fen": 8_000_000,
        },
    )
    assert sent.status_code == 201, sent.text
    raised = {(x["programme"], x["member_id"]) for x in sent.json()["leads"]}
    # In 公示 for 低保 and receiving the care subsidy: no lead for either; 特困 for both is still a visit to make.
    assert ("dibao", None) not in raised and ("disability_care_subsidy", wife) not in raised
    assert {("tekun", husband), ("tekun", wife)} <= raised

    status = await client.get(f"{API}/leads/households/{household_id}", headers=client.as_(COMMUNITY))
    assert status.status_code == 200, status.text
    assert status.json()["open_leads"] == len(raised)
    assert status.json()["excluded"] == [
        {
            "programme": "dibao",
            "member_id": None,
            "reason": "applying",
            "application_id": noticed["id"],
            "application_state": "publicised",
            "since_on": None,
        },
        {
            "programme": "disability_care_subsidy",
            "member_id": wife,
            "reason": "receiving",
            "application_id": None,
            "application_state": None,
            "since_on": "2024-01-01",
        },
    ]
    assert (await client.get(f"{API}/leads/households/{household_id}", headers=client.as_(HAISHU))).status_code == 404
    assert (
        await client.get(f"{API}/leads/households/{household_id}", headers=client.as_(staff("330212", *HOUSEHOLDS)))
    ).status_code == 403
