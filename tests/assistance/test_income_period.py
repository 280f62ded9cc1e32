"""Incomes count over the assessment period (家庭收入计算期), not for ever: in the single check and in the screening.

Before `income_assessment_months`, every income whose period had begun by `as_of` counted, however long ago it
ended: a re-check that recorded a new, lower income still counted the old wages, and the household was refused.
"""

import datetime as dt

import pytest

from services.assistance.eligibility import rules
from shared import clock
from tests.assistance.helpers import household, member
from tests.assistance.test_eligibility import CHECKER, check, load_policies
from tests.assistance.test_households import create
from tests.assistance.test_leads import screening_leads
from tests.conftest import staff

API = "/api/assistance/v1"
POLICIES = staff("330200", "assistance.policies:write", "assistance.policies:read", subject="staff:city-policies")
CITY_SCREENING = staff("330200", "assistance.screenings:run", "assistance.leads:read", subject="staff:city-screens")
STANDARD = 110_000
OLD_WAGES, NEW_INCOME = 300_000, 50_000  # 3,000 yuan a month before the job was lost, 500 after


def month(before: int) -> str:
    """The month `before` months before this one, as YYYY-MM (1: last month)."""
    index = clock.today().year * 12 + clock.today().month - 1 - before
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def income(member_id: int, monthly: int, first: str, last: str, name: str, obtained_on: str) -> dict:
    months = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    return {
        "member_id": member_id,
        "kind": "wages",
        "item": "wages",
        "amount_fen": monthly * months,
        "period_from": first,
        "period_to": last,
        "source": {"kind": "department", "name": name, "obtained_on": obtained_on},
    }


async def couple_with_incomes(client, incomes) -> int:
    """A working couple in 鄞州 (two counted members) and the applicant's incomes `(monthly, first, last, name)`."""
    h = await create(client, household(member(age=45), member("spouse", age=44)), CHECKER)
    applicant = h["members"][0]["id"]
    for monthly, first, last, name in incomes:
        added = await client.post(
            f"{API}/households/{h['id']}/incomes",
            json=income(applicant, monthly, first, last, name, clock.today().isoformat()),
            headers=client.as_(CHECKER),
        )
        assert added.status_code == 201, added.text
    return h["id"]


def programme(body: dict, code: str) -> dict:
    return next(p for p in body["programmes"] if p["code"] == code)


def criterion(body: dict, programme_code: str, code: str) -> dict:
    return next(c for c in programme(body, programme_code)["criteria"] if c["code"] == code)


async def test_a_recheck_counts_the_new_income_not_the_wages_that_ended(client):
    """Wages of six months that ended, then a lower income recorded at the re-check: the check of the month after
    counts the new income alone (the old wages made it 3,500 yuan for two, above the 低保 line)."""
    await load_policies(client)
    household_id = await couple_with_incomes(
        client,
        [
            (OLD_WAGES, "2024-01", "2024-06", "市人力社保局"),
            (NEW_INCOME, "2024-07", "2024-09", "申请人申报"),
        ],
    )
    response = await check(client, {"household_id": household_id, "as_of": "2024-10-15"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["household_monthly_income_fen"] == NEW_INCOME
    assert programme(body, "dibao")["eligible"] is True
    assert programme(body, "dibao")["amount_fen"] == 2 * STANDARD - NEW_INCOME
    below = criterion(body, "dibao", "per_capita_income_below_standard")
    assert below["value"] == NEW_INCOME // 2
    # Only the source of what was counted; the assessment period's version is named with the figures used.
    assert below["sources"] == [f"department: 申请人申报, {clock.today().isoformat()}"]
    assert [p["code"] for p in below["parameters"]][-1] == "income_assessment_months"
    # In July the last month was June: the old wages are the income then, and the new one not yet.
    july = (await check(client, {"household_id": household_id, "as_of": "2024-07-15"})).json()
    assert july["household_monthly_income_fen"] == OLD_WAGES
    assert programme(july, "dibao")["eligible"] is False
    # An income that begins in the month asked about is not part of a period that has not ended.
    early = (await check(client, {"household_id": household_id, "as_of": "2024-07-31"})).json()
    assert early["household_monthly_income_fen"] == OLD_WAGES


async def test_the_screening_counts_the_same_months_as_the_check(committed_client):
    """The whole-city screening (set-based) raises the 低保 lead the single check finds, on the same income."""
    client = committed_client  # the screening job commits in sessions of its own
    await load_policies(client)
    household_id = await couple_with_incomes(
        client,
        [
            (OLD_WAGES, month(9), month(4), "市人力社保局"),
            (NEW_INCOME, month(3), month(1), "申请人申报"),
        ],
    )
    today = (await check(client, {"household_id": household_id})).json()
    assert today["household_monthly_income_fen"] == NEW_INCOME
    assert programme(today, "dibao")["eligible"] is True
    leads = await screening_leads(client)
    assert (household_id, "dibao", None) in leads
    assert (household_id, "dibao_marginal", None) not in leads  # what the old wages made of it


async def test_a_district_period_averages_its_months_in_the_check_and_the_screening(committed_client):
    """A district that sets a 12-month period (a cited rule) averages the months' incomes: the check names that
    version, and the city-wide screening, which runs that district apart, counts the same average."""
    client = committed_client  # the screening job commits in sessions of its own
    await load_policies(client)
    added = await client.post(
        f"{API}/policies",
        headers=client.as_(POLICIES),
        json={
            "code": "income_assessment_months",
            "district_code": "330212",
            "value": 12,
            "unit": "months",
            "effective_on": "2024-01-01",
            "citation": "测试：申请前12个月",
        },
    )
    assert added.status_code == 201, added.text
    household_id = await couple_with_incomes(
        client,
        [
            (OLD_WAGES + 1, month(3), month(1), "申请人申报"),  # 3 months of the 12
            (OLD_WAGES, month(24), month(13), "市人力社保局"),  # ended before the period: none of it
        ],
    )
    body = (await check(client, {"household_id": household_id})).json()
    average = 3 * (OLD_WAGES + 1) // 12  # rounded down to the fen
    assert body["household_monthly_income_fen"] == average == 75_000
    below = criterion(body, "dibao", "per_capita_income_below_standard")
    assert below["parameters"][-1]["version_id"] == added.json()["id"]
    assert "12 whole month(s) before the month of as_of" in below["note"]
    assert programme(body, "dibao")["eligible"] is True  # 37,500 a person; over last month alone, 低保边缘
    leads = await screening_leads(client, CITY_SCREENING)
    assert (household_id, "dibao", None) in leads and (household_id, "dibao_marginal", None) not in leads


@pytest.mark.parametrize(("value", "status"), [(0, 422), (13, 422), (6, 201)])
async def test_an_assessment_period_is_1_to_12_months(client, value, status):
    response = await client.post(
        f"{API}/policies",
        headers=client.as_(POLICIES),
        json={
            "code": "income_assessment_months",
            "value": value,
            "unit": "months",
            "effective_on": "2024-01-01",
            "citation": "测试",
        },
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert "value" in response.text


@pytest.mark.parametrize(
    ("period_from", "months", "as_of", "period_months", "counted"),
    [
        (dt.date(2024, 1, 1), 6, dt.date(2024, 7, 15), 1, 1),  # June, the last month before July
        (dt.date(2024, 1, 1), 6, dt.date(2024, 8, 1), 1, 0),  # ended before July
        (dt.date(2024, 7, 1), 1, dt.date(2024, 7, 31), 1, 0),  # July has not ended on the 31st
        (dt.date(2023, 11, 1), 4, dt.date(2024, 2, 29), 1, 1),  # across the year: January 2024
        (dt.date(2023, 1, 1), 12, dt.date(2024, 2, 1), 12, 11),  # February 2023 to December 2023
        (dt.date(2022, 1, 1), 12, dt.date(2024, 2, 1), 12, 0),
    ],
)
def test_months_in_the_period(period_from, months, as_of, period_months, counted):
    assert rules.months_in_period(period_from, months, as_of, period_months) == counted
