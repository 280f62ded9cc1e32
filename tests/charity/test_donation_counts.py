"""A gift refunded in full is no gift: counts of donations (and of a donor's gifts) leave it out wherever they are
shown; a gift refunded in part still counts."""

from tests.charity.factories import API, CITY, YINZHOU, donate, project
from tests.charity.test_campaigns import campaign_with_units, csv_of, upload
from tests.indicators import value


async def refund(client, donation: dict, amount_fen: int) -> None:
    response = await client.post(
        f"{API}/donations/{donation['id']}/refunds",
        json={"amount_fen": amount_fen, "reason": "捐赠人申请退款"},
        headers=client.as_(YINZHOU),
    )
    assert response.status_code == 201, response.text


async def test_a_gift_refunded_in_full_is_not_counted_one_refunded_in_part_is(client):
    before = (await client.get(f"{API}/indicators")).json()
    created = await project(client)
    donor = {"kind": "person", "name": "陈静", "phone": "13800000011"}
    kept = await donate(client, created["id"], "dc-1", 30_000, donor=donor)
    part = await donate(client, created["id"], "dc-2", 20_000, donor=donor)
    whole = await donate(client, created["id"], "dc-3", 50_000, donor=donor)
    twice = await donate(client, created["id"], "dc-4", 10_000, donor=donor)
    await refund(client, part, 5_000)  # in part: still a gift of 15 000 fen
    await refund(client, whole, 50_000)  # in full at once
    await refund(client, twice, 4_000)
    await refund(client, twice, 6_000)  # in full in two refunds
    assert kept["amount_fen"] == 30_000

    public = (await client.get(f"{API}/public/projects/{created['id']}")).json()
    assert public["donation_count"] == 2 and public["raised_fen"] == 45_000
    listed = (await client.get(f"{API}/public/projects", params={"organization_id": created["organization_id"]})).json()
    assert [(p["id"], p["donation_count"]) for p in listed["items"]] == [(created["id"], 2)]

    board = (await client.get(f"{API}/honour-list")).json()["entries"]
    assert [(e["name"], e["amount_fen"], e["donations"]) for e in board if e["name"] == "陈静"] == [("陈静", 45_000, 2)]

    after = (await client.get(f"{API}/indicators")).json()
    for period in ("this_year", "all_time"):
        assert value(after, "donations", period=period) - value(before, "donations", period=period) == 2


async def test_a_payroll_batch_refunded_in_full_leaves_the_one_day_donation_participation(client):
    _, campaign, (first, second) = await campaign_with_units(client)
    whole = await upload(
        client, campaign, first, csv_of(("E001", "张三", "100"), ("E002", "李四", "50")), rows=2, total=15_000
    )
    part = await upload(client, campaign, second, csv_of(("X1", "", "30"), ("X2", "", "30")), rows=2, total=6_000)
    assert whole.status_code == part.status_code == 201
    for batch, amount in ((whole.json(), 15_000), (part.json(), 1_000)):
        response = await client.post(
            f"{API}/donations/{batch['donation_id']}/refunds",
            json={"amount_fen": amount, "reason": "单位申请退回"},
            headers=client.as_(CITY),
        )
        assert response.status_code == 201, response.text
    stats = (await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(CITY))).json()
    assert [(u["participants"], u["donated_fen"]) for u in stats["units"]] == [(0, 0), (2, 6_000)]
    assert stats["participants"] == 2
