"""Business counters on /metrics: a meal order placed, a bed hold made, released and lapsed are each counted
once their transaction commits; a refused request is not counted."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import staff
from tests.eldercare.test_beds import YINZHOU as BEDS_STAFF
from tests.eldercare.test_beds import add_beds, add_institution, hold, lapse
from tests.eldercare.test_meals import API, add_canteen, add_elder, add_menu, order
from tests.eldercare.test_meals import YINZHOU as MEALS_STAFF

STAFF = staff("330212", *MEALS_STAFF.scopes, *BEDS_STAFF.scopes, subject="staff:yinzhou")


async def events(client) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.labels["event"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "business_events"
        for sample in family.samples
        if sample.name == "business_events_total"
        and sample.labels["service"] == "eldercare"
        and sample.labels["outcome"] == "ok"
    }


async def test_meal_orders_and_bed_holds_are_counted_when_committed(committed_client):
    client = committed_client
    elder_id, _ = await add_elder(client)
    other_id, _ = await add_elder(client, serial="012")
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"], capacity=1)
    before = await events(client)

    placed = await order(client, menu["id"], elder_id)
    assert placed.status_code == 201, placed.text
    assert (await order(client, menu["id"], other_id)).status_code == 409  # sold out: rolled back, not counted
    text = (await client.get("/metrics")).text
    assert any(
        line.startswith("business_events_total{")
        and 'event="meal_order_placed"' in line
        and 'service="eldercare"' in line
        for line in text.splitlines()
    ), text
    after_order = await events(client)
    assert after_order["meal_order_placed"] - before.get("meal_order_placed", 0) == 1
    cancelled = await client.post(f"{API}/meal-orders/{placed.json()['id']}/cancel", headers=client.as_(STAFF))
    assert cancelled.status_code == 200, cancelled.text

    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], count=2)
    first = (await hold(client, beds[0], elder_id)).json()
    await client.post(f"{API}/bed-holds/{first['id']}/release", headers=client.as_(STAFF))
    second = (await hold(client, beds[1], other_id)).json()
    await lapse(client, second["id"])
    assert (await hold(client, beds[1], elder_id)).status_code == 201  # the next claim marks the lapsed hold expired

    after = await events(client)
    delta = {event: after.get(event, 0) - before.get(event, 0) for event in after}
    assert {
        k: delta[k]
        for k in (
            "meal_order_placed",
            "meal_order_cancelled",
            "bed_hold_placed",
            "bed_hold_released",
            "bed_hold_expired",
        )
    } == {
        "meal_order_placed": 1,
        "meal_order_cancelled": 1,
        "bed_hold_placed": 3,
        "bed_hold_released": 1,
        "bed_hold_expired": 1,
    }
