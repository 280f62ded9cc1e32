"""Every amount has a bound: a donation no ledger sum can be broken by, and pages that keep working."""

from services.charity.settings import LIMITS
from shared.money import MAX_PAYMENT_FEN
from tests.charity.factories import API, CITY, YINZHOU, donate, donation_body, project
from tests.charity.test_campaigns import campaign_with_units, csv_of, upload

HUGE = 6_917_529_027_641_081_856  # two of these overflow a 64-bit sum


async def pages_answer(client, project_id: int) -> None:
    """What a sum over the ledger feeds: the project pages, accounts, reconciliation and indicators."""
    for path in (
        f"/projects/{project_id}",
        "/projects",
        "/ledger/accounts",
        "/indicators",
        "/public/projects",
        f"/public/projects/{project_id}",
    ):
        response = await client.get(API + path, headers=client.as_(YINZHOU))
        assert response.status_code == 200, (path, response.text)
    run = await client.post(f"{API}/reconciliations", headers=client.as_(YINZHOU))
    assert run.status_code == 201 and run.json()["balanced"] is True, run.text


async def test_donations_too_large_for_any_sum_are_refused_naming_the_amount_and_the_pages_keep_working(client):
    created = await project(client)
    await donate(client, created["id"], "wx-small", 10_000)
    for txn in ("wx-huge-1", "wx-huge-2"):
        response = await client.post(
            f"{API}/donations", json=donation_body(created["id"], txn, HUGE), headers=client.as_(YINZHOU)
        )
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["amount_fen"]
    await pages_answer(client, created["id"])
    assert (await client.get(f"{API}/projects/{created['id']}", headers=client.as_(YINZHOU))).json()[
        "raised_fen"
    ] == 10_000


async def test_the_largest_donation_is_accepted_twice_and_one_fen_more_is_not(client):
    assert LIMITS.max_donation_fen == MAX_PAYMENT_FEN == 100_000_000 * 100  # the assumption's default: 1亿元
    created = await project(client)
    for txn in ("wx-max-1", "wx-max-2"):
        await donate(client, created["id"], txn, LIMITS.max_donation_fen)
    over = await client.post(
        f"{API}/donations",
        json=donation_body(created["id"], "wx-over", MAX_PAYMENT_FEN + 1),
        headers=client.as_(YINZHOU),
    )
    assert over.status_code == 422 and over.json()["errors"][0]["field"] == "amount_fen"
    assert "10000000000" in over.json()["errors"][0]["message"]
    documented = client.app.openapi()["components"]["schemas"]["DonationIn"]["properties"]["amount_fen"]
    assert documented["maximum"] == MAX_PAYMENT_FEN and "CHARITY_MAX_DONATION_FEN" in documented["description"]
    await pages_answer(client, created["id"])
    fetched = (await client.get(f"{API}/public/projects/{created['id']}")).json()
    assert fetched["raised_fen"] == 2 * MAX_PAYMENT_FEN


async def test_a_payroll_batch_over_one_donations_bound_is_rejected_whole(client):
    _, campaign, (unit, _) = await campaign_with_units(client)
    rows = [(f"E{n:03d}", "", "99999999.99") for n in range(2)]  # each row is allowed; together, too much
    response = await upload(client, campaign, unit, csv_of(*rows), rows=2, total=2 * 9_999_999_999)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["control_total_fen"]
    too_much = await upload(client, campaign, unit, csv_of(("E1", "", "100000000.01")), rows=1, total=10_000_000_001)
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "line 2.amount", too_much.text
    stats = await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(CITY))
    assert stats.json()["donated_fen"] == 0
