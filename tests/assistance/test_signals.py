"""Signals from partner departments: idempotent by the partner's id, re-evaluate the household, open leads."""

import asyncio
import datetime as dt

from services.assistance import seed
from shared import clock
from shared.identity import Principal
from tests.assistance.helpers import household, id_number, member
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
    body = {
        "signal_id": signal_id,
        "kind": "medical_bill",
        "id_number": number,
        "occurred_on": "2024-06-01",
        "amount_fen": 8_000_000,
        "detail": "住院自付8万元",
    }
    return body | overrides


async def send(client, body, principal=YIBAO):
    return await client.post(f"{API}/signals", json=body, headers=client.as_(principal))


async def test_a_signal_opens_leads_once_and_a_resend_replays(client):
    await load_policies(client)
    body = household(
        member(age=70, labour_capacity="none"),
        member("spouse", age=68, labour_capacity="none", disability_grade=1, disability_kind="physical"),
    )
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


async def test_a_signal_id_sent_again_about_another_person_or_event_is_refused_not_replayed(client):
    # A resend is answered with the first signal; a partner reusing an id (a sequence restarted) for another person
    # got that first answer too, 200 "replayed", and the new event was dropped without anyone knowing.
    await load_policies(client)
    other_person = id_number(dt.date(1960, 1, 1))
    first = await send(client, signal("330212195207080032", signal_id="YB-7"))
    assert first.status_code == 201, first.text
    for change in (
        {"id_number": other_person},
        {"amount_fen": 9_000_000},
        {"occurred_on": "2024-06-02"},
        {"kind": "job_loss", "amount_fen": None},
    ):
        refused = await send(client, signal("330212195207080032", signal_id="YB-7") | change)
        assert refused.status_code == 409, (change, refused.text)
        assert refused.json()["resource"] == f"signals/{first.json()['id']}"
        assert other_person not in refused.text
    again = await send(client, signal("330212195207080032", signal_id="YB-7"))
    assert again.status_code == 200 and again.json() == first.json()


async def test_a_person_not_in_any_household_is_recorded_without_leads(client):
    await load_policies(client)
    response = await send(client, signal("330212195207080032", signal_id="YB-9"))
    assert response.status_code == 201
    assert response.json()["household_found"] is False and response.json()["leads"] == []


async def test_bad_signals_and_callers(client):
    await load_policies(client)
    for field, value in (
        ("id_number", "330212195207080033"),
        ("kind", "lottery"),
        ("amount_fen", -1),
        ("occurred_on", "2999-01-01"),
        ("signal_id", ""),
    ):
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
    responses = await asyncio.gather(
        *(send(client, signal(body["members"][0]["id_number"], signal_id="YB-RACE")) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses).count(201) == 1, [r.status_code for r in responses]
    assert all(r.status_code in (200, 201) for r in responses)
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({tuple(x["id"] for x in r.json()["leads"]) for r in responses}) == 1


WORKER = staff(
    "330212001005", "assistance.households:read", "assistance.households:write", "assistance.eligibility:check"
)
DISABLED_PERSONS = Principal(
    subject="partner:canlian", kind="partner", scopes=frozenset({SCOPE}), name="市残疾人联合会"
)
EMERGENCY = Principal(subject="partner:yingji", kind="partner", scopes=frozenset({SCOPE}), name="市应急管理局")


async def recorded(client, *members, incomes=()) -> tuple[int, list[int], list[str]]:
    """A household of `members` with monthly `incomes` (member index, kind, fen) of last month, from the
    department: (household, member ids, ID numbers)."""
    await load_policies(client)
    body = household(*members)
    created = await client.post(f"{API}/households", json=body, headers=client.as_(WORKER))
    assert created.status_code == 201, created.text
    household_id, ids = created.json()["id"], [m["id"] for m in created.json()["members"]]
    last_month = (clock.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    for index, kind, fen in incomes:
        added = await client.post(
            f"{API}/households/{household_id}/incomes",
            headers=client.as_(WORKER),
            json={
                "member_id": ids[index],
                "kind": kind,
                "item": kind,
                "amount_fen": fen,
                "period_from": last_month,
                "period_to": last_month,
                "source": {"kind": "department", "name": "市人力社保局", "obtained_on": clock.today().isoformat()},
            },
        )
        assert added.status_code == 201, added.text
    return household_id, ids, [m["id_number"] for m in body["members"]]


def recently() -> str:
    return (clock.today() - dt.timedelta(days=20)).isoformat()


async def test_a_medical_bill_signal_counts_as_a_rigid_expense_and_raises_an_expenditure_type_lead(client):
    # Two pensioners with 2,400 yuan each: 2,400 a head, above the 低保 line (1,100) and the 低保边缘 one (2,200).
    household_id, ids, numbers = await recorded(
        client, member(age=63), member("spouse", age=61), incomes=[(0, "pension", 240_000), (1, "pension", 240_000)]
    )
    old_bill = await send(
        client, signal(numbers[0], signal_id="YB-OLD", occurred_on="2023-01-10", amount_fen=6_000_000)
    )
    assert old_bill.status_code == 201 and old_bill.json()["leads"] == []  # more than 12 months ago: not counted

    # A 60,000-yuan hospital bill last month, out of pocket: 5,000 a month over the year, more than half the income.
    sent = await send(client, signal(numbers[0], signal_id="YB-60000", occurred_on=recently(), amount_fen=6_000_000))
    assert sent.status_code == 201, sent.text
    [lead] = sent.json()["leads"]
    assert (lead["programme"], lead["member_id"], lead["signal_id"]) == ("dibao", None, sent.json()["id"])
    reasons = lead["reasons"]
    assert reasons["signal"] == "medical_bill" and reasons["expenditure_type"] is True
    assert reasons["signal_fact"] == {
        "applied": "medical_expense",
        "member_id": ids[0],
        "partner_signal_id": "YB-60000",
        "source": f"department: 市医疗保障局, {clock.today().isoformat()}",
        "occurred_on": recently(),
    }
    assert {"medical_expenses_at_least_share_of_income", "per_capita_income_after_medical_below_line"} <= set(
        reasons["criteria"]
    )
    assert "6000000" not in sent.text and "500000" not in sent.text  # a lead shows no amount

    # The household's recorded facts are the staff's to change: the same bill, once recorded as an expense with
    # the department as its source, makes the eligibility check find what the signal found.
    async def expenditure():
        checked = await client.post(
            f"{API}/eligibility-checks", json={"household_id": household_id}, headers=client.as_(WORKER)
        )
        assert checked.status_code == 200, checked.text
        return checked.json()["expenditure_type"]["eligible"]

    assert not await expenditure()
    bill_month = recently()[:7]
    entered = await client.post(
        f"{API}/households/{household_id}/medical-expenses",
        headers=client.as_(WORKER),
        json={
            "member_id": ids[0],
            "amount_fen": 6_000_000,
            "period_from": bill_month,
            "period_to": bill_month,
            "description": "住院自付",
            "source": {"kind": "department", "name": "市医疗保障局", "obtained_on": clock.today().isoformat()},
        },
    )
    assert entered.status_code == 201, entered.text
    assert await expenditure()


async def test_a_job_loss_signal_stops_the_wages_in_the_re_evaluation(client):
    # A working couple on 5,000 yuan of wages: 2,500 a head, above both lines.
    _household_id, _ids, numbers = await recorded(
        client, member(age=45), member("spouse", age=44), incomes=[(0, "wages", 500_000)]
    )
    lost = await send(
        client,
        signal(
            numbers[0], signal_id="RS-1", kind="job_loss", occurred_on=recently(), amount_fen=None, detail="单位裁员"
        ),
        RENSHE,
    )
    assert lost.status_code == 201, lost.text
    [lead] = lost.json()["leads"]
    assert (lead["programme"], lead["reasons"]["signal_fact"]["applied"]) == ("dibao", "wages_stopped")
    assert lead["reasons"]["signal_fact"]["source"].startswith("department: 市人力社保局")
    # With an unemployment benefit of 3,000 yuan a month: 1,500 a head, 低保边缘 rather than 低保.
    benefit = await send(
        client,
        signal(numbers[0], signal_id="RS-2", kind="job_loss", occurred_on=recently(), amount_fen=300_000),
        RENSHE,
    )
    assert [x["programme"] for x in benefit.json()["leads"]] == ["dibao_marginal"]


async def test_a_disability_record_signal_gives_the_member_the_recorded_disability(client):
    _household_id, ids, numbers = await recorded(
        client, member(age=45), member("spouse", age=44), incomes=[(0, "wages", 500_000)]
    )
    record = signal(
        numbers[1],
        signal_id="CL-1",
        kind="disability_record",
        occurred_on=recently(),
        amount_fen=None,
        disability_grade=1,
        disability_kind="physical",
    )
    sent = await send(client, record, DISABLED_PERSONS)
    assert sent.status_code == 201, sent.text
    # Grade 1: the severe disability care subsidy (护理补贴) for her, whatever the household's income.
    [lead] = sent.json()["leads"]
    assert (lead["programme"], lead["member_id"]) == ("disability_care_subsidy", ids[1])
    assert lead["reasons"]["signal_fact"]["applied"] == "disability"
    assert lead["reasons"]["criteria"] == ["severe_disability"]
    for body, field in (
        (record | {"signal_id": "CL-2", "disability_grade": None}, "disability_grade"),
        (record | {"signal_id": "CL-3", "disability_kind": None}, "disability_kind"),
        (record | {"signal_id": "CL-4", "disability_grade": 5}, "disability_grade"),
        (signal(numbers[1], signal_id="CL-5", disability_grade=1, disability_kind="physical"), "disability_grade"),
    ):
        refused = await send(client, body, DISABLED_PERSONS)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, (body, refused.text)


async def test_a_disaster_signal_makes_the_household_a_lead_for_staff_to_review_without_an_amount(client):
    _household_id, _ids, numbers = await recorded(
        client, member(age=45), member("spouse", age=44), incomes=[(0, "wages", 500_000)]
    )
    sent = await send(
        client,
        signal(
            numbers[1],
            signal_id="YJ-1",
            kind="disaster",
            occurred_on=recently(),
            amount_fen=None,
            detail="台风致房屋倒塌",
        ),
        EMERGENCY,
    )
    assert sent.status_code == 201, sent.text
    [lead] = sent.json()["leads"]
    reasons = lead["reasons"]
    # Above both lines on the recorded facts: the shock's size is unknown, so staff assess it on the visit.
    assert (lead["programme"], lead["member_id"], reasons["signal_fact"]["applied"]) == ("dibao", None, "shock")
    assert "review" in reasons and "per_capita_income_below_standard" not in reasons["criteria"]
    assert reasons["signal_fact"]["source"].startswith("department: 市应急管理局")
