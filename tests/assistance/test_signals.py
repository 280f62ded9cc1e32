"""Signals from partner departments: idempotent by the partner's id, re-evaluate the household, open leads."""

import asyncio

from services.assistance import seed
from shared.identity import Principal
from tests.assistance.helpers import household, member
from tests.assistance.test_households import create
from tests.conftest import staff

API = "/api/assistance/v1"
SCOPE = "assistance.signals:write"
YIBAO = Principal(subject="partner:yibao", kind="partner", scopes=frozenset({SCOPE}), name="市医疗保障局")
RENSHE = Principal(subject="partner:renshe", kind="partner", scopes=frozenset({SCOPE}), name="市人力社保局")


async def load_policies(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()


def signal(number, signal_id="YB-2024-0001", **overrides):
    body = {"signal_id": signal_id, "kind": "medical_bill", "id_number": number, "occurred_on": "2024-06-01",
            "amount_fen": 8_000_000, "detail": "住院自付8万元"}
    return body | overrides


async def send(client, body, principal=YIBAO):
    return await client.post(f"{API}/signals", json=body, headers=client.as_(principal))


async def test_a_signal_opens_leads_once_and_a_resend_replays(client):
    await load_policies(client)
    body = household(member(age=70, labour_capacity="none"), member("spouse", age=68, labour_capacity="none",
                                                                     disability_grade=1, disability_kind="physical"))
    h = await create(client, body, staff("330212", "assistance.households:write", "assistance.households:read"))
    number = body["members"][0]["id_number"]
    first = await send(client, signal(number))
    assert first.status_code == 201, first.text
    result = first.json()
    assert result["household_found"] is True and number not in first.text
    leads = {(x["programme"], x["member_id"]) for x in result["leads"]}
    # No income, both unable to work: 低保, 特困 for each, and the severe disability subsidies for the spouse.
    spouse = h["members"][1]["id"]
    assert ("dibao", None) in leads and ("tekun", spouse) in leads
    assert ("disability_care_subsidy", spouse) in leads and ("disability_living_subsidy", spouse) in leads
    assert all(x["signal_id"] == result["id"] and x["area_code"] == h["area_code"] for x in result["leads"])
    again = await send(client, signal(number))
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == result
    # Another partner's signal with the same id is its own signal.
    other = await send(client, signal(number, kind="job_loss"), RENSHE)
    assert other.status_code == 201 and other.json()["id"] != result["id"]


async def test_a_person_not_in_any_household_is_recorded_without_leads(client):
    await load_policies(client)
    response = await send(client, signal("330212195207080032", signal_id="YB-9"))
    assert response.status_code == 201
    assert response.json()["household_found"] is False and response.json()["leads"] == []


async def test_bad_signals_and_callers(client):
    await load_policies(client)
    for field, value in (("id_number", "330212195207080033"), ("kind", "lottery"), ("amount_fen", -1),
                         ("occurred_on", "2999-01-01"), ("signal_id", "")):
        response = await send(client, signal("330212195207080032") | {field: value})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == field
    staff_caller = staff("330212", SCOPE)
    assert (await send(client, signal("330212195207080032"), staff_caller)).status_code == 403
    no_scope = Principal(subject="partner:x", kind="partner")
    assert (await send(client, signal("330212195207080032"), no_scope)).status_code == 403
    assert (await client.post(f"{API}/signals", json=signal("330212195207080032"))).status_code == 401


async def test_the_same_signal_sent_at_once_is_recorded_once(committed_client):
    client = committed_client
    await load_policies(client)
    body = household(member(age=70, labour_capacity="none"))
    await create(client, body, staff("330212", "assistance.households:write", "assistance.households:read"))
    responses = await asyncio.gather(*(send(client, signal(body["members"][0]["id_number"], signal_id="YB-RACE"))
                                       for _ in range(8)))
    assert sorted(r.status_code for r in responses).count(201) == 1, [r.status_code for r in responses]
    assert all(r.status_code in (200, 201) for r in responses)
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({tuple(x["id"] for x in r.json()["leads"]) for r in responses}) == 1
