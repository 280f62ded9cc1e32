"""Receipts of non-cash gifts (物资) voided (作废) by staff with a reason: the number stays used, the gift may be
receipted anew, the organisation's numbers stay gap-free, and a gift never holds two live receipts."""

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError

from services.charity.inkind.models import InKindReceipt
from tests.charity.factories import API, HAISHU, YINZHOU, donate, organisation, project
from tests.charity.test_inkind import record
from tests.conftest import staff
from tests.races import next_request_succeeds

GIFTS, RECEIPTS = f"{API}/in-kind-donations", f"{API}/receipts"


async def issue(client, gift_id, principal=YINZHOU):
    return await client.post(f"{GIFTS}/{gift_id}/receipt", json={"handler": "陈会计"}, headers=client.as_(principal))


async def void(client, gift_id, reason="数量打印错误", principal=YINZHOU):
    return await client.post(f"{GIFTS}/{gift_id}/receipt/voids", json={"reason": reason}, headers=client.as_(principal))


async def numbers(client, org_id) -> list[tuple[int, str]]:
    response = await client.get(RECEIPTS, params={"organization_id": org_id, "limit": 100}, headers=client.as_(YINZHOU))
    assert response.status_code == 200, response.text
    return [(r["number"], r["status"]) for r in response.json()["items"]]


async def test_staff_void_an_in_kind_receipt_with_a_reason_and_the_gift_is_receipted_anew(client):
    created = await project(client)
    org_id = created["organization_id"]
    gift = await record(client, org_id)
    nothing = await void(client, gift["id"])
    assert nothing.status_code == 409 and nothing.json()["resource"] == f"in-kind-donations/{gift['id']}"
    first = (await issue(client, gift["id"])).json()

    without_scope = staff("330212", "charity.inkind:read", "charity.receipts:write", subject="staff:cashier")
    assert (await void(client, gift["id"], principal=without_scope)).status_code == 403
    assert (await void(client, gift["id"], principal=HAISHU)).status_code == 404
    assert (await void(client, gift["id"], reason="")).status_code == 422

    voided = await void(client, gift["id"], "数量打印错误")
    assert voided.status_code == 201, voided.text
    body = voided.json()
    assert (body["id"], body["status"], body["void_reason"], body["gift_kind"], body["number"]) == (
        first["id"],
        "voided",
        "数量打印错误",
        "in_kind",
        first["number"],
    )
    twice = await void(client, gift["id"])
    assert twice.status_code == 409 and twice.json()["resource"] == f"receipts/{first['id']}"
    fetched = (await client.get(f"{RECEIPTS}/{first['id']}", headers=client.as_(YINZHOU))).json()
    assert (fetched["status"], fetched["void_reason"]) == ("voided", "数量打印错误")

    # Receipted anew under the next number; the voided number is never issued again.
    again = await issue(client, gift["id"])
    assert again.status_code == 201, again.text
    assert (again.json()["number"], again.json()["status"]) == (first["number"] + 1, "issued")
    assert (await client.get(f"{GIFTS}/{gift['id']}", headers=client.as_(YINZHOU))).json()["receipt_id"] == (
        again.json()["id"]
    )
    third = await issue(client, gift["id"])
    assert third.status_code == 409 and third.json()["resource"] == f"receipts/{again.json()['id']}"
    # Money and goods share one sequence, without gaps.
    money = await donate(client, created["id"], "wx-ikv", 10_000)
    paper = await client.post(
        RECEIPTS, json={"donation_id": money["id"], "handler": "陈会计"}, headers=client.as_(YINZHOU)
    )
    assert paper.json()["number"] == first["number"] + 2
    assert await numbers(client, org_id) == [(1, "voided"), (2, "issued"), (3, "issued")]
    voided_listed = await client.get(
        RECEIPTS, params={"organization_id": org_id, "status": "voided"}, headers=client.as_(YINZHOU)
    )
    assert [r["id"] for r in voided_listed.json()["items"]] == [first["id"]]


async def test_the_database_keeps_one_live_receipt_per_gift(client):
    """The chain's keys, not only the service: a second first row, or a row after a receipt not voided, is refused."""
    org = await organisation(client)
    gift, other = await record(client, org["id"]), await record(client, org["id"])
    first = (await issue(client, gift["id"])).json()
    theirs = (await issue(client, other["id"])).json()
    assert (await void(client, other["id"])).status_code == 201
    rows = [
        {"receipt_id": theirs["id"]},  # a second first row
        {"receipt_id": theirs["id"], "replaces_receipt_id": first["id"]},  # after a receipt not voided
    ]
    for row in rows:
        async with client.app.state.database.sessionmaker() as session:
            session.add(InKindReceipt(gift_id=gift["id"], **row))
            with pytest.raises(IntegrityError):
                await session.flush()


async def test_receipts_and_voids_of_one_gift_at_once_leave_one_live_receipt_and_no_gap(committed_client):
    client = committed_client
    org = await organisation(client)
    gift = await record(client, org["id"])
    assert (await issue(client, gift["id"])).status_code == 201
    assert (await void(client, gift["id"])).status_code == 201
    answers = await asyncio.gather(*(issue(client, gift["id"]) for _ in range(8)), void(client, gift["id"]))
    issued = [r for r in answers[:-1] if r.status_code == 201]
    # One receipt, or two when the void came between two issues; every other issue found a live receipt.
    assert 1 <= len(issued) <= 1 + (answers[-1].status_code == 201), [r.status_code for r in answers]
    assert all(r.status_code == 409 for r in answers[:-1] if r.status_code != 201)
    listed = await numbers(client, org["id"])
    assert [n for n, _ in listed] == list(range(1, len(issued) + 2))  # every number used once, no gap
    live = [n for n, status in listed if status == "issued"]
    assert len(live) <= 1 and len(listed) - len(live) == 1 + (answers[-1].status_code == 201)
    # After the race: the gift is receipted (or voided) as usual.
    if live:
        await next_request_succeeds(void(client, gift["id"]))
    await next_request_succeeds(issue(client, gift["id"]))
