"""支出型 (expenditure-type) hardship: rigid medical expenses recorded with their source, and an eligibility check
that explains whether they bring the household under the line."""

from __future__ import annotations

import datetime as dt

from services.assistance import seed
from services.assistance.eligibility import rules
from shared import clock
from tests.assistance.helpers import household, member
from tests.conftest import staff

API = "/api/assistance/v1"
WORKER = staff(
    "330212001005", "assistance.households:read", "assistance.households:write", "assistance.eligibility:check"
)
HAISHU = staff("330203", "assistance.households:read", "assistance.households:write")
SOURCE = {"kind": "department", "name": "市医疗保障局", "obtained_on": "2024-01-05"}


def month(months_ago: int) -> str:
    day = clock.today().replace(day=1)
    for _ in range(months_ago):
        day = (day - dt.timedelta(days=1)).replace(day=1)
    return f"{day.year:04d}-{day.month:02d}"


async def setup(client, pension_fen=150_000) -> tuple[int, list[int]]:
    """Two retired people (60+, no wages), each with a pension: 3,000 yuan a month for two by default."""
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()
    created = await client.post(
        f"{API}/households", json=household(member(age=63), member("spouse", age=61)), headers=client.as_(WORKER)
    )
    assert created.status_code == 201, created.text
    household_id, members = created.json()["id"], [m["id"] for m in created.json()["members"]]
    for member_id in members:
        added = await client.post(
            f"{API}/households/{household_id}/incomes",
            headers=client.as_(WORKER),
            json={
                "member_id": member_id,
                "kind": "pension",
                "item": "pension",
                "amount_fen": pension_fen,
                "period_from": month(1),
                "period_to": month(1),
                "source": SOURCE | {"name": "市人力社保局"},
            },
        )
        assert added.status_code == 201, added.text
    return household_id, members


async def expense(client, household_id, member_id, amount_fen, first=None, last=None, expect=201, **extra):
    first, last = first or month(3), last or month(1)
    response = await client.post(
        f"{API}/households/{household_id}/medical-expenses",
        headers=client.as_(WORKER),
        json={
            "member_id": member_id,
            "amount_fen": amount_fen,
            "period_from": first,
            "period_to": last,
            "description": "住院（肾透析）",
            "source": SOURCE,
        }
        | extra,
    )
    assert response.status_code == expect, response.text
    return response.json()


async def check(client, **body):
    response = await client.post(f"{API}/eligibility-checks", json=body, headers=client.as_(WORKER))
    assert response.status_code == 200, response.text
    return response.json()


async def test_medical_expenses_are_recorded_with_their_source_and_checked(client):
    household_id, members = await setup(client)
    recorded = await expense(client, household_id, members[0], 1_200_000)
    assert (recorded["months"], recorded["period_from"], recorded["source"]["name"]) == (3, month(3), "市医疗保障局")
    for body, field in (
        ({"amount_fen": -1}, "amount_fen"),
        ({"period_from": month(1), "period_to": month(3)}, "period_to"),
        ({"period_from": month(14), "period_to": month(0)}, "period_to"),
        ({"member_id": 999_999}, "member_id"),
        ({"source": SOURCE | {"obtained_on": "2999-01-01"}}, "source.obtained_on"),
    ):
        data = {
            "member_id": members[0],
            "amount_fen": 1,
            "period_from": month(2),
            "period_to": month(1),
            "source": SOURCE,
        } | body
        refused = await client.post(
            f"{API}/households/{household_id}/medical-expenses", json=data, headers=client.as_(WORKER)
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, (body, refused.text)
    elsewhere = await client.post(
        f"{API}/households/{household_id}/medical-expenses",
        headers=client.as_(HAISHU),
        json={
            "member_id": members[0],
            "amount_fen": 1,
            "period_from": month(1),
            "period_to": month(1),
            "source": SOURCE,
        },
    )
    assert elsewhere.status_code == 404
    # An expense that began more than 12 months ago no longer counts.
    await expense(client, household_id, members[1], 9_999_999, first=month(13), last=month(13))
    status = (await client.get(f"{API}/households/{household_id}/economic-status", headers=client.as_(WORKER))).json()
    assert len(status["medical_expenses"]) == 2
    assert status["medical_expense_monthly_fen"] == 1_200_000 // 12


async def test_rigid_medical_expenses_bring_a_household_under_the_line(client):
    household_id, members = await setup(client)  # 3,000 yuan for two: 1,500 each, above the 1,100 standard
    before = await check(client, household_id=household_id)
    assert not before["programmes"][0]["eligible"] and not before["expenditure_type"]["eligible"]

    # 18,000 yuan out of pocket in the past year: 1,500 a month, exactly half (500‰) of the income.
    await expense(client, household_id, members[0], 1_000_000, first=month(6), last=month(4))
    await expense(client, household_id, members[1], 800_000)
    result = await check(client, household_id=household_id)
    spent = result["expenditure_type"]
    assert spent["eligible"] and not spent["income_type"]
    assert (
        spent["medical_expense_monthly_fen"],
        spent["household_income_after_medical_fen"],
        spent["per_capita_income_after_medical_fen"],
    ) == (150_000, 150_000, 75_000)
    criteria = {c["code"]: c for c in spent["criteria"]}
    share = criteria["medical_expenses_at_least_share_of_income"]
    assert share["passed"] and (share["value"], share["threshold"]) == (150_000, 150_000)
    line = criteria["per_capita_income_after_medical_below_line"]
    assert line["passed"] and (line["value"], line["threshold"]) == (75_000, 110_000)
    used = {p["code"]: p for c in spent["criteria"] for p in c["parameters"]}
    assert used["expenditure_medical_share"]["value"] == 500 and used["expenditure_medical_share"]["is_assumption"]
    assert "市医疗保障局" in " ".join(share["sources"])
    assert not result["programmes"][0]["eligible"]  # 低保 on income alone: still no

    # A year before the expenses, the same household had none: the rules then find nothing.
    earlier = await check(client, household_id=household_id, as_of=(clock.today() - dt.timedelta(days=400)).isoformat())
    assert earlier["expenditure_type"]["medical_expense_monthly_fen"] == 0
    assert not earlier["expenditure_type"]["eligible"]


async def test_just_under_the_share_is_not_enough(client):
    household_id, members = await setup(client)
    await expense(client, household_id, members[0], 1_799_988)  # 149,999 fen a month: one fen under half
    spent = (await check(client, household_id=household_id))["expenditure_type"]
    assert not spent["eligible"]
    failed = [c["code"] for c in spent["criteria"] if not c["passed"]]
    assert failed == ["medical_expenses_at_least_share_of_income"]


async def test_an_inline_household_with_medical_expenses(client):
    await setup(client)
    people = [member(age=63, incomes=[{"kind": "pension", "item": "pension", "monthly_fen": 300_000}])]
    inline = {"area_code": "330212001005", "members": people, "medical_expenses": [{"monthly_fen": 200_000}]}
    spent = (await check(client, household=inline))["expenditure_type"]
    assert spent["eligible"] and spent["per_capita_income_after_medical_fen"] == 100_000
    assert (
        await client.post(
            f"{API}/eligibility-checks",
            headers=client.as_(WORKER),
            json={"household": inline | {"medical_expenses": [{"monthly_fen": -5}]}},
        )
    ).status_code == 422


def test_no_decision_on_a_day_its_parameters_were_not_in_force():
    facts = rules.HouseholdFacts(district_code="330212", people=(), medical_expense_fen=1)
    evaluation = rules.Evaluation(dt.date(2024, 1, 1), 0, 0, None, [])
    assert rules.expenditure_type(facts, {}, evaluation) is None
