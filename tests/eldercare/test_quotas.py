"""Per-resident booking quotas (OWASP API6): one resident account cannot hold every meal, bed or visit, however
many people they act for; staff are not limited; the limit holds under concurrent requests."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from tests.conftest import resident
from tests.eldercare.test_beds import CARER_P, add_beds, add_institution, hold
from tests.eldercare.test_beds import YINZHOU as BED_STAFF
from tests.eldercare.test_homecare import V_WRITE, add_service, order_visit
from tests.eldercare.test_meals import (
    API,
    CARER,
    ORDERS_READ,
    ORDERS_WRITE,
    TOMORROW,
    YINZHOU,
    add_canteen,
    add_elder,
    add_menu,
    order,
)

FAMILY = resident(CARER, ORDERS_READ, ORDERS_WRITE, V_WRITE, *CARER_P.scopes)


@pytest.fixture
def small_quotas(monkeypatch):
    """Set before the app is made (the app fixture comes after this one in each test's arguments)."""
    monkeypatch.setenv("ELDERCARE_RESIDENT_MEAL_ORDERS_PER_DAY", "2")
    monkeypatch.setenv("ELDERCARE_RESIDENT_BED_HOLDS", "1")
    monkeypatch.setenv("ELDERCARE_RESIDENT_OPEN_VISITS", "1")


async def people(client, count: int) -> list[int]:
    return [(await add_elder(client, serial=f"{100 + n:03d}"))[0] for n in range(count)]


def assert_quota(response, quota: str):
    assert response.status_code == 409, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/quota-reached" and problem["resource"] == f"quotas/{quota}"


async def test_meal_orders_per_day_across_the_people_one_acts_for(small_quotas, client):
    elders = await people(client, 3)
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    first, second = [await order(client, menu["id"], e, who=FAMILY) for e in elders[:2]]
    assert first.status_code == second.status_code == 201, first.text
    assert_quota(await order(client, menu["id"], elders[2], who=FAMILY), "meal_orders_per_day")
    # Another day is another day's quota; staff ordering for the person are not counted.
    other_day = await add_menu(client, canteen["id"], served_on=(TOMORROW + dt.timedelta(days=1)).isoformat())
    assert (await order(client, other_day["id"], elders[2], who=FAMILY)).status_code == 201
    assert (await order(client, menu["id"], elders[2], who=YINZHOU)).status_code == 201
    # A cancelled order no longer counts.
    cancelled = await client.post(f"{API}/meal-orders/{first.json()['id']}/cancel", headers=client.as_(FAMILY))
    assert cancelled.status_code == 200, cancelled.text
    dinner = await add_menu(client, canteen["id"], meal="dinner")
    assert (await order(client, dinner["id"], elders[0], who=FAMILY)).status_code == 201


async def test_live_bed_holds(small_quotas, client):
    elders = await people(client, 2)
    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], count=2)
    held = await hold(client, beds[0], elders[0], who=FAMILY)
    assert held.status_code == 201, held.text
    assert_quota(await hold(client, beds[1], elders[1], who=FAMILY), "bed_holds")
    assert (
        await client.post(f"{API}/bed-holds/{held.json()['id']}/release", headers=client.as_(FAMILY))
    ).status_code == 200
    assert (await hold(client, beds[1], elders[1], who=FAMILY)).status_code == 201
    assert (await hold(client, beds[0], elders[0], who=BED_STAFF)).status_code == 201


async def test_the_quota_answers_first_even_when_the_place_or_bed_is_gone(small_quotas, client):
    # The refusals read before the transaction (sold out, bed taken) leave a resident at their quota to the quota.
    elders = await people(client, 4)
    canteen = await add_canteen(client)
    lunch = await add_menu(client, canteen["id"])
    dinner = await add_menu(client, canteen["id"], meal="dinner", capacity=1)
    assert (await order(client, dinner["id"], elders[3], who=YINZHOU)).status_code == 201  # dinner is sold out
    sold_out = await order(client, dinner["id"], elders[2], who=FAMILY)
    assert sold_out.status_code == 409 and sold_out.json()["resource"] == f"menus/{dinner['id']}"
    for elder_id in elders[:2]:
        assert (await order(client, lunch["id"], elder_id, who=FAMILY)).status_code == 201
    assert_quota(await order(client, dinner["id"], elders[2], who=FAMILY), "meal_orders_per_day")

    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], count=2)
    assert (await hold(client, beds[1], elders[3], who=BED_STAFF)).status_code == 201  # bed 1 is taken
    taken = await hold(client, beds[1], elders[1], who=FAMILY)
    assert taken.status_code == 409 and taken.json()["resource"] == f"beds/{beds[1]}"
    assert (await hold(client, beds[0], elders[0], who=FAMILY)).status_code == 201
    assert_quota(await hold(client, beds[1], elders[1], who=FAMILY), "bed_holds")
    # Someone the resident does not care for: the quota first, then the same 404 as ever.
    stranger, _ = await add_elder(client, serial="201", carers=())
    assert_quota(await hold(client, beds[1], stranger, who=FAMILY), "bed_holds")


async def test_open_home_visits(small_quotas, client):
    elders = await people(client, 2)
    item = await add_service(client)
    first = await order_visit(client, elders[0], item["id"], who=FAMILY)
    assert first.status_code == 201, first.text
    assert_quota(await order_visit(client, elders[1], item["id"], who=FAMILY), "open_visits")


async def test_parallel_orders_never_exceed_the_quota(small_quotas, committed_client):
    client = committed_client
    elders = await people(client, 8)
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"], capacity=50)
    responses = await asyncio.gather(*(order(client, menu["id"], e, who=FAMILY) for e in elders))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 2 and statuses.count(409) == 6, statuses
    for refused in (r for r in responses if r.status_code == 409):
        assert_quota(refused, "meal_orders_per_day")
    listed = await client.get(f"{API}/meal-orders", params={"status": "placed"}, headers=client.as_(FAMILY))
    assert len(listed.json()["items"]) == 2
