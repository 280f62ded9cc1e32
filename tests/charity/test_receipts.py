"""Receipts: numbered per organisation and year without gaps, declines, merged small gifts under 爱心人士."""

import asyncio

from shared import clock
from tests.charity.factories import API, HAISHU, YINZHOU, donate, organisation, project

URL = f"{API}/receipts"


async def issue(client, donation_id, principal=YINZHOU):
    return await client.post(URL, json={"donation_id": donation_id, "handler": "陈会计"}, headers=client.as_(principal))


async def test_receipts_are_numbered_without_gaps_and_one_per_donation(client):
    created = await project(client)
    first, second, third = [await donate(client, created["id"], f"wx-{n}", 10_000 * n) for n in (1, 2, 3)]
    year = clock.today().year
    one = await issue(client, first["id"])
    assert one.status_code == 201, one.text
    body = one.json()
    assert (body["receipt_no"], body["number"], body["year"]) == (f"{year}-000001", 1, year)
    assert (body["donor_name"], body["amount_fen"], body["handler"], body["kind"]) == (
        "王小明",
        10_000,
        "陈会计",
        "individual",
    )
    assert body["issued_on"] == clock.today().isoformat() and body["donation_ids"] == [first["id"]]
    again = await issue(client, first["id"])
    assert again.status_code == 409 and again.json()["resource"] == f"receipts/{body['id']}"
    declined = await client.post(
        f"{URL}/declines", json={"donation_id": second["id"], "note": "电话告知不需要"}, headers=client.as_(YINZHOU)
    )
    assert declined.status_code == 201 and declined.json()["note"] == "电话告知不需要"
    refused = await issue(client, second["id"])
    assert refused.status_code == 409 and "declined" in refused.json()["detail"]
    assert (
        await client.post(f"{URL}/declines", json={"donation_id": first["id"]}, headers=client.as_(YINZHOU))
    ).status_code == 409
    # Refused attempts took no number: the next receipt is 2.
    partly_refunded = await client.post(
        f"{API}/donations/{third['id']}/refunds",
        headers=client.as_(YINZHOU),
        json={"amount_fen": 5_000, "reason": "部分退款"},
    )
    assert partly_refunded.status_code == 201
    two = (await issue(client, third["id"])).json()
    assert (two["number"], two["amount_fen"]) == (2, 25_000)
    # Another organisation numbers from 1.
    other = await project(client, org=await organisation(client, name="鄞州区红十字会"))
    theirs = (await issue(client, (await donate(client, other["id"], "wx-other"))["id"])).json()
    assert theirs["number"] == 1 and theirs["organization_id"] != body["organization_id"]
    listed = (
        await client.get(
            URL, params={"organization_id": body["organization_id"], "year": year}, headers=client.as_(YINZHOU)
        )
    ).json()["items"]
    assert [r["number"] for r in listed] == [1, 2]


async def test_a_days_small_and_anonymous_gifts_merge_under_one_name(client):
    created = await project(client)
    small = [await donate(client, created["id"], f"wx-s{n}", amount) for n, amount in enumerate((3_000, 5_000))]
    large = await donate(client, created["id"], "wx-large", 6_000)
    anonymous = await donate(client, created["id"], "wx-anon", 20_000, donor={"kind": "anonymous"})
    declined = await donate(client, created["id"], "wx-declined", 4_000)
    receipted = await donate(client, created["id"], "wx-receipted", 2_000)
    refunded = await donate(client, created["id"], "wx-refunded", 1_000)
    await client.post(f"{URL}/declines", json={"donation_id": declined["id"]}, headers=client.as_(YINZHOU))
    assert (await issue(client, receipted["id"])).status_code == 201
    await client.post(
        f"{API}/donations/{refunded['id']}/refunds",
        json={"amount_fen": 1_000, "reason": "x"},
        headers=client.as_(YINZHOU),
    )
    await client.post(
        f"{API}/donations/{small[0]['id']}/refunds",
        json={"amount_fen": 500, "reason": "x"},
        headers=client.as_(YINZHOU),
    )
    body = {"organization_id": created["organization_id"], "day": clock.today().isoformat(), "handler": "陈会计"}
    merged = await client.post(f"{URL}/merged", json=body, headers=client.as_(YINZHOU))
    assert merged.status_code == 201, merged.text
    receipt = merged.json()
    assert (receipt["kind"], receipt["donor_name"], receipt["number"]) == ("merged", "爱心人士", 2)
    assert receipt["donation_ids"] == [small[0]["id"], small[1]["id"], anonymous["id"]]
    assert receipt["amount_fen"] == 2_500 + 5_000 + 20_000
    empty = await client.post(f"{URL}/merged", json=body, headers=client.as_(YINZHOU))
    assert empty.status_code == 409
    assert (await issue(client, small[1]["id"])).status_code == 409  # already on the merged receipt
    assert (await issue(client, large["id"])).json()["number"] == 3
    future = await client.post(f"{URL}/merged", json=body | {"day": "2999-01-01"}, headers=client.as_(YINZHOU))
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "day"


async def test_receipts_stay_in_their_area(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-area")
    outside = await issue(client, donation["id"], HAISHU)
    assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "donation_id"
    mine = (await issue(client, donation["id"])).json()
    assert (await client.get(f"{URL}/{mine['id']}", headers=client.as_(HAISHU))).status_code == 404
    assert (await client.get(URL, headers=client.as_(HAISHU))).json()["items"] == []
    merged = await client.post(
        f"{URL}/merged",
        headers=client.as_(HAISHU),
        json={"organization_id": created["organization_id"], "day": clock.today().isoformat(), "handler": "x"},
    )
    assert merged.status_code == 404


async def test_concurrent_receipts_take_consecutive_numbers(committed_client):
    client = committed_client
    created = await project(client)
    donations = [await donate(client, created["id"], f"wx-c{n}", 1_000 + n) for n in range(20)]
    attempts = [issue(client, d["id"]) for d in donations] + [issue(client, d["id"]) for d in donations[:6]]
    responses = await asyncio.gather(*attempts)
    assert sorted(r.status_code for r in responses) == [201] * 20 + [409] * 6, [r.text for r in responses]
    numbers = sorted(r.json()["number"] for r in responses if r.status_code == 201)
    assert numbers == list(range(1, 21))
    assert len({r.json()["donation_ids"][0] for r in responses if r.status_code == 201}) == 20
