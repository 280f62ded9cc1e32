"""Approving a statement twice, or while refunds of its orders come in: one approval, and the approved statement
always says what its orders and the refunds settled in it say (a refund that loses the race is settled later)."""

from __future__ import annotations

import asyncio

from tests.eldercare.test_meal_settlement import (
    API,
    DISTRICT,
    MONTH,
    NEXT_MONTH,
    after_the_month,
    approve,
    month_of_orders,
    orders_listed,
    produce,
    real_time_afterwards,  # noqa: F401 (autouse fixture)
    refund,
    summed_independently,
)
from tests.races import next_request_succeeds


async def test_concurrent_approvals_approve_once(committed_client, assistance):
    client = committed_client
    month = await month_of_orders(client, assistance)
    after_the_month()
    statement = (await produce(client, month["canteen"]["id"])).json()
    responses = await asyncio.gather(*(approve(client, statement) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert all(r.json()["resource"] == f"meal-statements/{statement['id']}" for r in responses if r.status_code == 409)
    shown = await next_request_succeeds(
        client.get(f"{API}/meal-statements/{statement['id']}", headers=client.as_(DISTRICT)), 200
    )
    assert shown["status"] == "approved" and shown["revision"] == statement["revision"]


async def test_an_approval_racing_refunds_settles_each_refund_exactly_once(committed_client, assistance):
    client = committed_client
    month = await month_of_orders(client, assistance)
    canteen_id = month["canteen"]["id"]
    after_the_month()
    statement = (await produce(client, canteen_id)).json()
    approval, *refunds = await asyncio.gather(
        approve(client, statement), *(refund(client, o["id"]) for o in month["orders"])
    )
    assert all(r.status_code == 201 for r in refunds), [r.text for r in refunds]
    assert approval.status_code in (200, 409), approval.text
    if approval.status_code == 409:  # a refund committed first: the orders changed since the revision reviewed
        statement = await next_request_succeeds(produce(client, canteen_id), 200)
        approved = await next_request_succeeds(approve(client, statement), 200)
    else:
        approved = approval.json()
    settled = {r.json()["order_id"]: r.json()["month"] for r in refunds}
    assert set(settled.values()) <= {MONTH, NEXT_MONTH}
    expected = summed_independently(await orders_listed(client, canteen_id), MONTH, settled)
    assert {k: approved[k] for k in expected} == expected
    # Whatever was not settled in the approved month is an adjustment of the next one.
    following = (await produce(client, canteen_id, NEXT_MONTH)).json()
    late = [o for o in month["orders"] if settled[o["id"]] == NEXT_MONTH]
    assert following["adjustments"] == len(late)
    assert following["adjustment_subsidy_fen"] == sum(o["subsidy_fen"] for o in late)
    assert approved["refunded_subsidy_fen"] + following["adjustment_subsidy_fen"] == sum(
        o["subsidy_fen"] for o in month["orders"]
    )
