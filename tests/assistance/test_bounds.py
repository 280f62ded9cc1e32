"""Incomes, assets and bills have domain bounds: generous (a bound must not keep anyone from help), refused past
them with a 422 naming the field, and held by CHECKs where the column is in the clear (incomes are encrypted)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.money import MAX_ASSET_FEN, MAX_BILL_FEN, MAX_MONTHLY_INCOME_FEN, MAX_PERIOD_INCOME_FEN
from tests.assistance.helpers import household, member
from tests.assistance.test_assessment import SOURCE, income, post
from tests.assistance.test_eligibility import check, load_policies
from tests.assistance.test_households import YINZHOU, create
from tests.assistance.test_signals import send, signal

TOO_LARGE = 2**63  # past any column


async def test_incomes_and_assets_at_their_bound_are_recorded_and_past_it_refused_naming_the_field(client):
    h = await create(client, household(member(age=45)))
    applicant = h["members"][0]["id"]
    at_bound = await post(
        client,
        h["id"],
        "incomes",
        income(applicant, amount_fen=MAX_PERIOD_INCOME_FEN, period_from="2024-01", period_to="2024-12"),
    )
    assert at_bound.status_code == 201, at_bound.text
    for amount in (MAX_PERIOD_INCOME_FEN + 1, TOO_LARGE):
        refused = await post(client, h["id"], "incomes", income(applicant, amount_fen=amount))
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "amount_fen", refused.text
    asset = {"member_id": applicant, "kind": "deposit", "source": SOURCE}
    assert (await post(client, h["id"], "assets", asset | {"value_fen": MAX_ASSET_FEN})).status_code == 201
    for value in (MAX_ASSET_FEN + 1, TOO_LARGE):
        refused = await post(client, h["id"], "assets", asset | {"value_fen": value})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "value_fen", refused.text
    expense = {"member_id": applicant, "period_from": "2024-03", "period_to": "2024-05", "source": SOURCE}
    refused = await post(client, h["id"], "medical-expenses", expense | {"amount_fen": MAX_PERIOD_INCOME_FEN + 1})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "amount_fen", refused.text
    # The household's assessment still answers, with the sums of amounts at their bound.
    status = await client.get(f"/api/assistance/v1/households/{h['id']}/economic-status", headers=client.as_(YINZHOU))
    assert status.status_code == 200, status.text


async def test_an_inline_household_takes_incomes_up_to_the_bound(client):
    await load_policies(client)

    def inline(monthly_fen):
        return {
            "household": {
                "area_code": "330212001005",
                "members": [member(age=50, incomes=[{"kind": "wages", "item": "wages", "monthly_fen": monthly_fen}])],
            }
        }

    assert (await check(client, inline(MAX_MONTHLY_INCOME_FEN))).status_code == 200
    refused = await check(client, inline(MAX_MONTHLY_INCOME_FEN + 1))
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "household.members.0.incomes.0.monthly_fen"


async def test_a_partner_bill_past_its_bound_is_refused(client):
    await load_policies(client)
    body = household(member(age=60))
    await create(client, body)
    number = body["members"][0]["id_number"]
    for amount in (MAX_BILL_FEN + 1, 2**31, TOO_LARGE):  # 2**31 was past the 4-byte column on PostgreSQL
        refused = await send(client, signal(number, amount_fen=amount))
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "amount_fen", refused.text
    assert (await send(client, signal(number, amount_fen=MAX_BILL_FEN))).status_code == 201


async def test_the_database_refuses_an_asset_past_its_bound(client):
    h = await create(client, household(member(age=45)))
    async with client.app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="value_fen_bounded"):
            await session.execute(
                text(
                    "INSERT INTO assets (household_id, member_id, kind, value_fen, description, "
                    "source_kind, source_name, source_on, recorded_by, recorded_at) VALUES "
                    "(:h, NULL, 'deposit', :v, '', 'department', 'x', '2024-01-01', 't', "
                    "CURRENT_TIMESTAMP)"
                ),
                {"h": h["id"], "v": MAX_ASSET_FEN + 1},
            )
