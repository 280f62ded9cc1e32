"""Receipts voided (作废): by a refund of a donation they cover (a merged one as a whole) or by staff; the number
stays used, and what remains may be receipted anew, never leaving a live receipt for money given back."""

import asyncio
import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from services.charity.receipts.models import DonationReceipt
from shared import clock
from tests.charity.factories import (
    API,
    DONATIONS_READ,
    FUNDS_WRITE,
    HAISHU,
    YINZHOU,
    donate,
    organisation,
    project,
)
from tests.charity.test_inkind import record
from tests.conftest import staff
from tests.races import next_request_succeeds

URL = f"{API}/receipts"


async def issue(client, donation_id, principal=YINZHOU):
    return await client.post(URL, json={"donation_id": donation_id, "handler": "陈会计"}, headers=client.as_(principal))


async def refund(client, donation_id, amount_fen, reason="捐赠人申请退款"):
    return await client.post(
        f"{API}/donations/{donation_id}/refunds",
        json={"amount_fen": amount_fen, "reason": reason},
        headers=client.as_(YINZHOU),
    )


async def void(client, receipt_id, reason="打印错误", principal=YINZHOU):
    return await client.post(f"{URL}/{receipt_id}/voids", json={"reason": reason}, headers=client.as_(principal))


async def receipt(client, receipt_id):
    response = await client.get(f"{URL}/{receipt_id}", headers=client.as_(YINZHOU))
    assert response.status_code == 200, response.text
    return response.json()


async def listed(client, **params):
    response = await client.get(URL, params=params | {"limit": 100}, headers=client.as_(YINZHOU))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_refund_voids_the_receipt_and_what_remains_is_receipted_anew(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-v1", 10_000)
    first = (await issue(client, donation["id"])).json()
    assert (first["status"], first["voided_at"], first["void_reason"]) == ("issued", None, None)

    partly = await refund(client, donation["id"], 3_000, "部分退款")
    assert partly.status_code == 201, partly.text
    voided = await receipt(client, first["id"])
    assert (voided["status"], voided["number"], voided["donation_ids"]) == ("voided", 1, [donation["id"]])
    assert "部分退款" in voided["void_reason"] and voided["void_refund_id"] == partly.json()["id"]
    assert dt.datetime.fromisoformat(voided["voided_at"]).utcoffset() is not None

    # What remains gets a new receipt, under the next number: the voided one keeps its own.
    second = await issue(client, donation["id"])
    assert second.status_code == 201, second.text
    assert (second.json()["number"], second.json()["amount_fen"], second.json()["status"]) == (2, 7_000, "issued")
    assert (await issue(client, donation["id"])).status_code == 409
    assert [r["number"] for r in await listed(client, status="voided")] == [1]
    assert [r["number"] for r in await listed(client, status="issued")] == [2]
    assert [r["number"] for r in await listed(client)] == [1, 2]

    # The rest refunded: the second is voided too, and a donation refunded in full takes no receipt.
    assert (await refund(client, donation["id"], 7_000)).status_code == 201
    assert (await receipt(client, second.json()["id"]))["status"] == "voided"
    refused = await issue(client, donation["id"])
    assert refused.status_code == 409 and "refunded in full" in refused.json()["detail"]
    assert (await listed(client, status="issued")) == []
    assert (await client.get(URL, params={"status": "lost"}, headers=client.as_(YINZHOU))).status_code == 422


async def test_a_refund_voids_a_merged_receipt_as_a_whole_and_frees_its_other_gifts(client):
    created = await project(client)
    small = [await donate(client, created["id"], f"wx-m{n}", 1_000 * (n + 1)) for n in range(3)]
    body = {"organization_id": created["organization_id"], "day": clock.today().isoformat(), "handler": "陈会计"}
    merged = (await client.post(f"{URL}/merged", json=body, headers=client.as_(YINZHOU))).json()
    assert merged["amount_fen"] == 6_000

    assert (await refund(client, small[0]["id"], 500)).status_code == 201
    voided = await receipt(client, merged["id"])
    assert voided["status"] == "voided" and voided["donation_ids"] == [d["id"] for d in small]

    # The other gifts are receivable again: one on its own receipt, the rest merged anew (less the refund).
    alone = await issue(client, small[1]["id"])
    assert alone.status_code == 201 and alone.json()["amount_fen"] == 2_000
    again = await client.post(f"{URL}/merged", json=body, headers=client.as_(YINZHOU))
    assert again.status_code == 201, again.text
    assert again.json()["donation_ids"] == [small[0]["id"], small[2]["id"]]
    assert again.json()["amount_fen"] == 500 + 3_000
    assert (await client.post(f"{URL}/merged", json=body, headers=client.as_(YINZHOU))).status_code == 409
    numbers = sorted((r["number"], r["status"]) for r in await listed(client))
    assert numbers == [(1, "voided"), (2, "issued"), (3, "issued")]


async def test_staff_void_a_receipt_once_with_a_reason(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-s1", 10_000)
    first = (await issue(client, donation["id"])).json()

    without_scope = staff("330212", DONATIONS_READ, FUNDS_WRITE, subject="staff:cashier")
    assert (await void(client, first["id"], principal=without_scope)).status_code == 403
    assert (await void(client, first["id"], principal=HAISHU)).status_code == 404
    assert (await void(client, 2_147_483_648)).status_code == 422
    empty = await client.post(f"{URL}/{first['id']}/voids", json={"reason": ""}, headers=client.as_(YINZHOU))
    assert empty.status_code == 422

    voided = await void(client, first["id"], "金额打印错误")
    assert voided.status_code == 201, voided.text
    body = voided.json()
    assert (body["status"], body["void_reason"], body["void_refund_id"], body["number"]) == (
        "voided",
        "金额打印错误",
        None,
        1,
    )
    twice = await void(client, first["id"])
    assert twice.status_code == 409 and twice.json()["resource"] == f"receipts/{first['id']}"

    # The donation may be receipted again, or the donor may now decline; then nothing more.
    declined = await client.post(f"{URL}/declines", json={"donation_id": donation["id"]}, headers=client.as_(YINZHOU))
    assert declined.status_code == 201, declined.text
    assert "declined" in (await issue(client, donation["id"])).json()["detail"]
    # A refund after the void leaves the voided receipt as it was.
    assert (await refund(client, donation["id"], 1_000)).status_code == 201
    assert (await receipt(client, first["id"]))["void_reason"] == "金额打印错误"

    # A non-cash gift's receipt is the in-kind register's, not voided here.
    gift = await record(client, created["organization_id"])
    in_kind = await client.post(
        f"{API}/in-kind-donations/{gift['id']}/receipt", json={"handler": "陈会计"}, headers=client.as_(YINZHOU)
    )
    assert in_kind.json()["status"] == "issued"
    assert (await void(client, in_kind.json()["id"])).status_code == 409


async def test_the_database_keeps_one_live_receipt_per_donation(client):
    """The chain's keys, not only the service: a second first row, or a row after a receipt not voided, is refused."""
    created = await project(client)
    donation = await donate(client, created["id"], "wx-db", 10_000)
    first = (await issue(client, donation["id"])).json()
    other = (await issue(client, (await donate(client, created["id"], "wx-db2", 10_000))["id"])).json()
    assert (await void(client, other["id"])).status_code == 201

    rows = [
        {"receipt_id": other["id"]},  # a second first row
        {"receipt_id": other["id"], "replaces_receipt_id": first["id"]},  # after a receipt not voided
        {"receipt_id": first["id"], "replaces_receipt_id": other["id"]},  # after another donation's receipt
    ]
    for row in rows:
        async with client.app.state.database.sessionmaker() as session:
            session.add(DonationReceipt(donation_id=donation["id"], recorded_by="test", **row))
            with pytest.raises(IntegrityError):
                await session.flush()


async def test_refunds_receipts_and_voids_at_once_leave_no_live_receipt_for_money_given_back(committed_client):
    client = committed_client
    # Several organisations: refunds serialise per project and receipts per organisation, so across them the
    # refund of a donation and its receipt really run together (PostgreSQL).
    projects = [await project(client, org=await organisation(client, name=f"慈善会{n}")) for n in range(4)]
    day = clock.today().isoformat()
    donations, small, attempts = [], [], []
    for p in projects:
        mine = [await donate(client, p["id"], f"wx-r{p['id']}-{n}", 10_000 + n) for n in range(8)]
        tiny = [await donate(client, p["id"], f"wx-r{p['id']}-small{n}", 1_000 + n) for n in range(4)]
        donations += mine
        small += tiny
        for n, d in enumerate(mine):  # half refunded in full, half in part, each between two receipts asked for
            attempts += [issue(client, d["id"]), refund(client, d["id"], d["amount_fen"] if n % 2 else 4_000)]
            attempts.append(issue(client, d["id"]))
        body = {"organization_id": p["organization_id"], "day": day, "handler": "陈会计"}
        for d in tiny:  # a day's small gifts merged while some are refunded
            attempts += [
                client.post(f"{URL}/merged", json=body, headers=client.as_(YINZHOU)),
                refund(client, d["id"], 300),
            ]
    responses = await asyncio.gather(*attempts)
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses if r.status_code >= 500]
    refund_answers = [r for r in responses if r.request.url.path.endswith("/refunds")]
    assert len(refund_answers) == len(donations) + len(small) and all(r.status_code == 201 for r in refund_answers)

    # Every live receipt is for money still given: its amount is what remains of its donations.
    remaining = {}
    for d in donations + small:
        got = await client.get(f"{API}/donations/{d['id']}", headers=client.as_(YINZHOU))
        remaining[d["id"]] = got.json()["refundable_fen"]
    everything = await listed(client)
    live = [r for r in everything if r["status"] == "issued"]
    for r in live:
        assert r["amount_fen"] == sum(remaining[d] for d in r["donation_ids"]), r
        assert all(remaining[d] > 0 for d in r["donation_ids"]), r
    covered = [d for r in live for d in r["donation_ids"]]
    assert len(covered) == len(set(covered)), "a donation on two live receipts"
    # Voided receipts keep their numbers: each organisation's numbers are still 1..n without a gap.
    for p in projects:
        numbers = sorted(r["number"] for r in everything if r["organization_id"] == p["organization_id"])
        assert numbers == list(range(1, len(numbers) + 1))

    # Several voids of one receipt at once: one voids it, the others are told it is voided already.
    targets = live[:8]
    voids = await asyncio.gather(*(void(client, r["id"], f"并发作废 {n}") for r in targets for n in range(4)))
    assert sorted(v.status_code for v in voids) == [201] * len(targets) + [409] * (3 * len(targets)), [
        v.text for v in voids if v.status_code >= 500
    ]
    for r in targets:
        assert (await receipt(client, r["id"]))["status"] == "voided"

    # The losers left nothing behind: the next receipt, refund and void are answered as usual.
    fresh = await donate(client, projects[0]["id"], "wx-r-after", 20_000)
    issued = await next_request_succeeds(issue(client, fresh["id"]))
    await next_request_succeeds(refund(client, fresh["id"], 5_000))
    assert (await receipt(client, issued["id"]))["status"] == "voided"
    reissued = await next_request_succeeds(issue(client, fresh["id"]))
    assert (reissued["amount_fen"], reissued["number"]) == (15_000, issued["number"] + 1)
    await next_request_succeeds(void(client, reissued["id"]))


async def test_a_receipt_voided_in_another_organisation_leaves_this_ones_numbers_alone(client):
    mine = await project(client)
    theirs = await project(client, org=await organisation(client, name="鄞州区红十字会"))
    a = (await issue(client, (await donate(client, mine["id"], "wx-o1"))["id"])).json()
    b = (await issue(client, (await donate(client, theirs["id"], "wx-o2"))["id"])).json()
    assert (await void(client, b["id"])).status_code == 201
    c = (await issue(client, (await donate(client, mine["id"], "wx-o3"))["id"])).json()
    assert (a["number"], b["number"], c["number"]) == (1, 1, 2)
