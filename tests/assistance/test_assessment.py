"""Economic assessment: incomes by kind with exempt items, assets, every figure with its source."""

import pytest

from shared import clock
from tests.assistance.helpers import household, member
from tests.assistance.test_households import HAISHU, URL, YINZHOU, create
from tests.conftest import staff

READER = staff("330212", "assistance.households:read", "assistance.pii:read")
SOURCE = {"kind": "department", "name": "市人力社保局", "obtained_on": "2024-07-02"}


def income(member_id, **overrides):
    body = {
        "member_id": member_id,
        "kind": "wages",
        "item": "wages",
        "amount_fen": 1_200_000,
        "period_from": "2024-01",
        "period_to": "2024-06",
        "source": SOURCE,
    }
    return body | overrides


def month(before: int) -> str:
    """The month `before` months before the test day's month, as YYYY-MM (1: last month)."""
    index = clock.today().year * 12 + clock.today().month - 1 - before
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def post(client, household_id, what, body, principal=YINZHOU):
    return await client.post(f"{URL}/{household_id}/{what}", json=body, headers=client.as_(principal))


async def test_counted_income_leaves_out_exempt_items_and_uncounted_members(client):
    h = await create(
        client, household(member(age=45), member("spouse", age=44), member("child", age=25))
    )  # adult child living on their own: not counted
    applicant, spouse, adult_child = (m["id"] for m in h["members"])
    # The periods run up to last month: the totals of today are over the assessment period, which ends with it.
    wages = await post(client, h["id"], "incomes", income(applicant, period_from=month(6), period_to=month(1)))
    assert wages.status_code == 201, wages.text
    # Stored encrypted and masked in the answer; the clear amounts need the scope, a purpose, and are audited.
    assert wages.json()["months"] == 6 and wages.json()["amounts_masked"] is True
    assert wages.json()["amount_fen"] is None and wages.json()["monthly_fen"] is None
    income_id = wages.json()["id"]
    clear = await post(client, h["id"], f"incomes/{income_id}/pii-reads", {"purpose": "入户调查：核对收入"}, READER)
    assert clear.status_code == 201, clear.text
    assert clear.json()["values"] == {
        f"incomes.{income_id}.amount_fen": "1200000",
        f"incomes.{income_id}.monthly_fen": "200000",
    }
    assert wages.json()["source"] == SOURCE and wages.json()["exempt"] is False
    declared = {"kind": "applicant", "name": "申请人申报", "obtained_on": "2024-07-01"}
    await post(
        client,
        h["id"],
        "incomes",
        income(
            spouse,
            kind="pension",
            item="residents_pension_basic",
            amount_fen=30_000,
            period_from=month(1),
            period_to=month(1),
            source=declared,
        ),
    )
    await post(
        client,
        h["id"],
        "incomes",
        income(
            spouse,
            kind="transfer",
            item="special_care_pension",
            amount_fen=120_000,
            period_from=month(6),
            period_to=month(1),
        ),
    )
    await post(
        client,
        h["id"],
        "incomes",
        income(spouse, kind="property", item="rent", amount_fen=100_001, period_from=month(4), period_to=month(1)),
    )
    await post(client, h["id"], "incomes", income(adult_child, amount_fen=6_000_000))
    # Wages of a job that ended two months before the period: recorded, and in no total of today.
    ended = income(applicant, amount_fen=6 * 900_000, period_from=month(8), period_to=month(3))
    assert (await post(client, h["id"], "incomes", ended)).status_code == 201
    asset = await post(
        client,
        h["id"],
        "assets",
        {
            "member_id": spouse,
            "kind": "deposit",
            "value_fen": 5_000_000,
            "description": "定期存款",
            "source": SOURCE | {"name": "市金融办"},
        },
    )
    assert asset.status_code == 201 and asset.json()["source"]["name"] == "市金融办"
    await post(client, h["id"], "assets", {"kind": "vehicle", "value_fen": 3_000_000, "source": declared})
    summary = await client.get(f"{URL}/{h['id']}/economic-status", headers=client.as_(YINZHOU))
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert (body["counted_monthly_income_fen"], body["exempt_monthly_income_fen"]) == (None, None)
    assert body["incomes_masked"] and all(i["amount_fen"] is None for i in body["incomes"])
    totals = await post(client, h["id"], "economic-status/pii-reads", {"purpose": "入户调查：核对收入"}, READER)
    assert totals.status_code == 201, totals.text
    # 200,000 wages + 25,000 rent (100,001 over 4 months, rounded down); the pension and 抚恤金 are exempt; the
    # wages that ended before last month are not counted (they were, and made it 1,125,000).
    assert totals.json()["values"] == {
        "counted_monthly_income_fen": "225000",
        "exempt_monthly_income_fen": str(30_000 + 20_000),
    }
    assert [i["exempt"] for i in body["incomes"]] == [False, True, True, False, False, False]
    assert [i["source"]["kind"] for i in body["incomes"]][:2] == ["department", "applicant"]
    assert [(a["kind"], a["member_id"]) for a in body["assets"]] == [("deposit", spouse), ("vehicle", None)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_fen": -1}, "amount_fen"),
        ({"amount_fen": 100.5}, "amount_fen"),
        ({"period_from": "2024-07", "period_to": "2024-06"}, "period_to"),
        ({"period_from": "2023-01", "period_to": "2024-06"}, "period_to"),  # 18 months
        ({"period_from": "2024-13"}, "period_from"),
        ({"period_to": "2999-01"}, "period_to"),
        ({"period_from": "1000-01", "period_to": "1000-03"}, "period_from"),
        ({"period_from": "1899-12", "period_to": "1899-12"}, "period_from"),
        ({"kind": "wages", "item": "scholarship"}, "item"),
        ({"kind": "salary"}, "kind"),
        ({"member_id": 999999}, "member_id"),
        ({"source": SOURCE | {"kind": "rumour"}}, "source.kind"),
        ({"source": SOURCE | {"obtained_on": "2999-01-01"}}, "source.obtained_on"),
        ({"source": None}, "source"),
    ],
)
async def test_bad_incomes_name_the_field_and_write_nothing(client, change, field):
    h = await create(client, household(member()))
    body = income(h["members"][0]["id"]) | change
    response = await post(client, h["id"], "incomes", body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    summary = await client.get(f"{URL}/{h['id']}/economic-status", headers=client.as_(YINZHOU))
    assert summary.json()["incomes"] == []


async def test_the_current_month_is_allowed_but_not_the_next(client):
    h = await create(client, household(member()))
    this_month = clock.today().strftime("%Y-%m")
    ok = await post(
        client, h["id"], "incomes", income(h["members"][0]["id"], period_from=this_month, period_to=this_month)
    )
    assert ok.status_code == 201, ok.text


async def test_bad_assets_and_other_areas(client):
    h = await create(client, household(member()))
    other = await create(client, household(member()))
    negative = await post(client, h["id"], "assets", {"kind": "deposit", "value_fen": -5, "source": SOURCE})
    assert negative.status_code == 422 and negative.json()["errors"][0]["field"] == "value_fen"
    elsewhere = await post(
        client,
        h["id"],
        "assets",
        {"member_id": other["members"][0]["id"], "kind": "deposit", "value_fen": 5, "source": SOURCE},
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["errors"][0]["field"] == "member_id"
    # Another district's staff get the same 404 as for a household that does not exist.
    assert (await post(client, h["id"], "incomes", income(h["members"][0]["id"]), HAISHU)).status_code == 404
    assert (await client.get(f"{URL}/{h['id']}/economic-status", headers=client.as_(HAISHU))).status_code == 404
    reader = staff("330212", "assistance.households:read")
    assert (await post(client, h["id"], "incomes", income(h["members"][0]["id"]), reader)).status_code == 403
