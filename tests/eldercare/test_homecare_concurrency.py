"""Racing for a caregiver's hour, and many verified visits drawing one subsidy balance at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

from tests.eldercare.test_homecare import (
    API,
    TOMORROW_9,
    YINZHOU,
    add_caregiver,
    add_service,
    end_of,
    funded_account,
    move_back,
    order_visit,
    position,
    scheduled_visit,
    start_of,
)
from tests.eldercare.test_meals_concurrency import many_elders
from tests.races import next_request_succeeds


async def test_concurrent_scheduling_books_a_caregiver_once_per_slot(committed_client):
    client = committed_client
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elders = await many_elders(client, 12)
    # Twelve people want the same caregiver at overlapping times (starts 5 minutes apart, an hour each).
    responses = await asyncio.gather(
        *(
            order_visit(client, e, item["id"], TOMORROW_9 + dt.timedelta(minutes=5 * n), caregiver_id=caregiver["id"])
            for n, e in enumerate(elders)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, [r.text for r in responses]
    booked = (
        await client.get(
            f"{API}/visits",
            params={"caregiver_id": caregiver["id"], "status": "scheduled", "limit": 100},
            headers=client.as_(YINZHOU),
        )
    ).json()["items"]
    spans = sorted((dt.datetime.fromisoformat(v["starts_at"]), dt.datetime.fromisoformat(v["ends_at"])) for v in booked)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans)), spans
    assert len(booked) == statuses.count(201)
    # One who lost books the same caregiver for the afternoon, clear of every hour of the race.
    loser = next(e for e, r in zip(elders, responses, strict=False) if r.status_code == 409)
    await next_request_succeeds(
        order_visit(client, loser, item["id"], TOMORROW_9 + dt.timedelta(hours=5), caregiver_id=caregiver["id"])
    )


async def test_concurrent_verified_visits_never_overdraw_the_subsidy(committed_client):
    client = committed_client
    [elder_id] = await many_elders(client, 1)
    account = await funded_account(client, elder_id, amount=10000, tier="age_80_plus")  # many_elders are 80+
    item = await add_service(client, price=3000)
    caregivers = [await add_caregiver(client) for _ in range(7)]
    *visits, after = [
        await move_back(client, await scheduled_visit(client, elder_id, item["id"], c["id"])) for c in caregivers
    ]
    for visit in [*visits, after]:
        await client.post(
            f"{API}/visits/{visit['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(visit))
        )

    def check_out(visit):
        return client.post(
            f"{API}/visits/{visit['id']}/check-out", headers=client.as_(YINZHOU), json=position(at=end_of(visit))
        )

    responses = await asyncio.gather(*(check_out(v) for v in visits))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    drawn = sorted(r.json()["subsidy_fen"] for r in responses)
    assert sum(drawn) == 10000 and drawn == [0, 0, 1000, 3000, 3000, 3000]
    balance = (await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))).json()
    assert balance["balance_fen"] == 0
    # Then the account is topped up and the next verified visit draws from it as usual.
    await next_request_succeeds(
        client.post(
            f"{API}/subsidy-accounts/{account['id']}/adjustments",
            headers=client.as_(YINZHOU),
            json={"amount_fen": 5000, "note": "补发测试"},
        )
    )
    assert (await next_request_succeeds(check_out(after), status=200))["subsidy_fen"] == 3000


async def test_staff_confirming_one_reviewed_visit_at_once_draw_it_once(committed_client):
    """Two staff confirm the same flagged visit at the same moment: the person's subsidy pays for it once."""
    client = committed_client
    [elder_id] = await many_elders(client, 1)
    account = await funded_account(client, elder_id, amount=10000, tier="age_80_plus")
    item = await add_service(client, price=3000)
    caregiver = await add_caregiver(client)
    visit = await move_back(client, await scheduled_visit(client, elder_id, item["id"], caregiver["id"]))
    await client.post(
        f"{API}/visits/{visit['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(visit))
    )
    out = await client.post(
        f"{API}/visits/{visit['id']}/check-out",
        headers=client.as_(YINZHOU),
        json=position(at=start_of(visit) + dt.timedelta(seconds=50)),
    )
    assert out.json()["status"] == "flagged"

    def confirm():
        return client.post(
            f"{API}/visits/{visit['id']}/corrections",
            headers=client.as_(YINZHOU),
            json={"reason": "回访确认服务已完成", "status": "verified"},
        )

    responses = await asyncio.gather(*(confirm() for _ in range(4)))
    assert {r.status_code for r in responses} <= {201, 409} and 201 in {r.status_code for r in responses}, [
        r.text for r in responses
    ]
    ledger = (await client.get(f"{API}/subsidy-accounts/{account['id']}/entries", headers=client.as_(YINZHOU))).json()[
        "items"
    ]
    assert [(e["kind"], e["amount_fen"]) for e in ledger] == [("draw", -3000), ("allowance", 10000)]
    await next_request_succeeds(confirm())
    assert (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(YINZHOU))).json()["subsidy_fen"] == 3000


async def test_corrections_back_and_forth_and_other_draws_at_once_keep_one_live_draw_per_visit(committed_client):
    """Staff correct two verified visits to flagged and back, over and over, while three other visits of the same
    person check out (drawing) and staff adjust the account, all at once. Afterwards every visit has at most one live
    draw (one exactly when it is verified), and the balance is what the ledger adds up to."""
    client = committed_client
    [elder_id] = await many_elders(client, 1)
    account = await funded_account(client, elder_id, amount=20000, tier="age_80_plus")
    item = await add_service(client, price=3000)
    caregivers = [await add_caregiver(client) for _ in range(5)]
    visits = [await move_back(client, await scheduled_visit(client, elder_id, item["id"], c["id"])) for c in caregivers]
    for visit in visits:
        checked_in = await client.post(
            f"{API}/visits/{visit['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(visit))
        )
        assert checked_in.status_code == 200, checked_in.text

    def check_out(visit):
        return client.post(
            f"{API}/visits/{visit['id']}/check-out", headers=client.as_(YINZHOU), json=position(at=end_of(visit))
        )

    def correct(visit, status):
        return client.post(
            f"{API}/visits/{visit['id']}/corrections",
            headers=client.as_(YINZHOU),
            json={"reason": "回访核实服务情况", "status": status},
        )

    corrected, drawing = visits[:2], visits[2:]
    for visit in corrected:
        assert (await check_out(visit)).json()["subsidy_fen"] == 3000
    requests = [correct(v, status) for _ in range(4) for v in corrected for status in ("flagged", "verified")]
    requests += [check_out(v) for v in drawing]
    requests.append(
        client.post(
            f"{API}/subsidy-accounts/{account['id']}/adjustments",
            headers=client.as_(YINZHOU),
            json={"amount_fen": -1000, "note": "并发扣减测试"},
        )
    )
    responses = await asyncio.gather(*requests)
    assert {r.status_code for r in responses} <= {200, 201, 409}, [r.text for r in responses if r.status_code >= 500]
    assert all(r.status_code == 200 for r in responses[-4:-1]), [r.text for r in responses[-4:-1]]

    ledger = (
        await client.get(
            f"{API}/subsidy-accounts/{account['id']}/entries", params={"limit": 100}, headers=client.as_(YINZHOU)
        )
    ).json()["items"]
    balance = (await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))).json()
    assert balance["balance_fen"] == sum(e["amount_fen"] for e in ledger) == ledger[0]["balance_after_fen"]
    for visit in visits:
        shown = (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(YINZHOU))).json()
        own = [e["kind"] for e in reversed(ledger) if e["visit_id"] == visit["id"]]
        live = own.count("draw") - own.count("reversal")
        assert live == (1 if shown["status"] == "verified" else 0), (shown["status"], own)
        assert own == ["draw", "reversal"] * (len(own) // 2) + ["draw"] * live, own  # in turn, a draw first
    live_draws = sum(
        -e["amount_fen"]
        for e in ledger
        if e["kind"] == "draw"
        and not any(r["kind"] == "reversal" and r["visit_id"] == e["visit_id"] and r["id"] > e["id"] for r in ledger)
    )
    adjusted = sum(e["amount_fen"] for e in ledger if e["kind"] == "adjustment")
    assert balance["balance_fen"] == 20000 + adjusted - live_draws

    # The next ordinary correction of each visit still goes through, and settles it.
    for visit in corrected:
        await next_request_succeeds(correct(visit, "verified"))
        shown = (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(YINZHOU))).json()
        assert shown["status"] == "verified" and shown["subsidy_fen"] + shown["self_paid_fen"] == 3000
