"""Meal aid: canteens, menus, subsidy rates as dated data, orders priced with assistance's answer (or the
fallback when it does not answer), places that are never oversold, cut-offs and cancellations."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import update

from services.eldercare.elders.models import AssistanceStatus
from services.eldercare.meals.models import Menu
from shared import clock
from shared.db import utcnow
from tests.conftest import TEST_DAY, resident, staff
from tests.eldercare.conftest import PEER_TOKEN
from tests.eldercare.test_elders import id_number

API = "/api/eldercare/v1"
ELDERS_READ, ELDERS_WRITE = "eldercare.elders:read", "eldercare.elders:write"
CANTEENS_READ, CANTEENS_WRITE = "eldercare.canteens:read", "eldercare.canteens:write"
ORDERS_READ, ORDERS_WRITE = "eldercare.meal_orders:read", "eldercare.meal_orders:write"
RATES_WRITE = "eldercare.meal_subsidies:write"
YINZHOU = staff(
    "330212",
    ELDERS_READ,
    ELDERS_WRITE,
    CANTEENS_READ,
    CANTEENS_WRITE,
    ORDERS_READ,
    ORDERS_WRITE,
    subject="staff:yinzhou",
)
HAISHU = staff(
    "330203",
    ELDERS_READ,
    ELDERS_WRITE,
    CANTEENS_READ,
    CANTEENS_WRITE,
    ORDERS_READ,
    ORDERS_WRITE,
    subject="staff:haishu",
)
CITY = staff("330200", CANTEENS_READ, RATES_WRITE, subject="staff:city")
CARER = "resident:13900000001"
TOMORROW = TEST_DAY + dt.timedelta(days=1)  # the clock is at noon on TEST_DAY (tests/eldercare/conftest.py)

# The test rates: city-wide from 2022, with 鄞州区 paying 特困 more from 2023.
RATES = [
    ("tekun", "330200", 800, "2022-01-01"),
    ("dibao", "330200", 600, "2022-01-01"),
    ("dibao_marginal", "330200", 400, "2022-01-01"),
    ("disability", "330200", 500, "2022-01-01"),
    ("age_80_plus", "330200", 300, "2022-01-01"),
    ("age_60_79", "330200", 100, "2022-01-01"),
    ("tekun", "330212", 1000, "2023-01-01"),
    ("tekun", "330212", 9999, "2199-01-01"),
]


async def add_rates(client):
    for tier, district, amount, effective in RATES:
        response = await client.post(
            f"{API}/meal-subsidy-rates",
            headers=client.as_(CITY),
            json={
                "tier": tier,
                "district_code": district,
                "amount_fen": amount,
                "effective_on": effective,
                "citation": "test figures",
                "is_assumption": True,
            },
        )
        assert response.status_code == 201, response.text


# Born in the year that makes a person 75 or 76 on TEST_DAY: 60–79, the tier the tests price by, in any year.
BORN_60_79 = dt.date(TEST_DAY.year - 76, 5, 5)


async def add_elder(
    client, *, birth=BORN_60_79, serial="011", area="330212001", carers=(CARER,), who=YINZHOU
) -> tuple[int, str]:
    number = id_number(area[:6], birth, serial)
    response = await client.post(
        f"{API}/elders",
        headers=client.as_(who),
        json={
            "id_number": number,
            "name": "测试老人",
            "address": "鄞州区百丈街道1号",
            "area_code": area,
            "latitude": 29.87,
            "longitude": 121.56,
            "carers": [{"subject": s, "relation": "child"} for s in carers],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], number


async def add_canteen(client, who=YINZHOU, **overrides) -> dict:
    body = {
        "name": "百丈街道老年食堂",
        "kind": "canteen",
        "area_code": "330212001",
        "address": "百丈东路100号",
        "latitude": 29.868,
        "longitude": 121.561,
        "delivery_area_codes": ["330212001"],
    } | overrides
    response = await client.post(f"{API}/canteens", headers=client.as_(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def add_menu(client, canteen_id: int, who=YINZHOU, **overrides) -> dict:
    body = {
        "served_on": TOMORROW.isoformat(),
        "meal": "lunch",
        "dishes": ["红烧鱼", "青菜", "米饭"],
        "price_fen": 1500,
        "capacity": 50,
    } | overrides
    response = await client.post(f"{API}/canteens/{canteen_id}/menus", headers=client.as_(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def order(client, menu_id: int, elder_id: int, who=YINZHOU, headers=None, **overrides):
    body = {"menu_id": menu_id, "elder_id": elder_id, "fulfilment": "dine_in"} | overrides
    return await client.post(f"{API}/meal-orders", headers=client.as_(who) | (headers or {}), json=body)


async def remaining(client, canteen_id: int, menu_id: int) -> int:
    menus = (
        await client.get(
            f"{API}/canteens/{canteen_id}/menus", params={"to": TOMORROW.isoformat()}, headers=client.as_(YINZHOU)
        )
    ).json()
    return next(m["remaining"] for m in menus if m["id"] == menu_id)


# ---- canteens and menus ----------------------------------------------------------------------------------


async def test_canteen_keeps_kind_delivery_areas_and_cutoffs(client):
    canteen = await add_canteen(client, kind="central_kitchen", cutoffs={"dinner": {"time": "14:30"}})
    assert canteen["delivers"] is True and canteen["delivery_area_codes"] == ["330212001"]
    assert canteen["cutoffs"] == {
        "breakfast": {"days_before": 1, "time": "20:00:00"},
        "lunch": {"days_before": 0, "time": "10:00:00"},
        "dinner": {"days_before": 0, "time": "14:30:00"},
    }
    await add_canteen(
        client,
        name="钟公庙助餐点",
        kind="meal_point",
        area_code="330212004",
        delivery_area_codes=[],
        supplied_by=canteen["id"],
    )
    found = (
        await client.get(f"{API}/canteens", params={"delivers_to": "330212001005"}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert [c["id"] for c in found] == [canteen["id"]]
    points = (await client.get(f"{API}/canteens", params={"kind": "meal_point"}, headers=client.as_(YINZHOU))).json()
    assert [c["name"] for c in points["items"]] == ["钟公庙助餐点"]


async def test_canteen_bad_input_names_the_field(client):
    headers = client.as_(YINZHOU)
    base = {"name": "食堂", "kind": "canteen", "area_code": "330212001", "address": "某路1号"}
    for field, value in (
        ("kind", "restaurant"),
        ("area_code", "3302"),
        ("latitude", 95),
        ("delivery_area_codes", ["abc"]),
        ("cutoffs", {"lunch": {"time": "25:00"}}),
        ("cutoffs", {"lunch": {"days_before": 5, "time": "10:00"}}),
    ):
        response = await client.post(f"{API}/canteens", headers=headers, json=base | {field: value})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"].startswith(field)
    half = await client.post(f"{API}/canteens", headers=headers, json=base | {"latitude": 29.8})
    assert half.status_code == 422 and half.json()["errors"][0]["field"] == "longitude"
    outside = await client.post(f"{API}/canteens", headers=client.as_(HAISHU), json=base)
    assert outside.status_code == 403


async def test_menu_per_day_and_meal_with_cutoff_in_shanghai_time(client):
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    assert menu["remaining"] == 50 and menu["ordering_open"] is True
    # Lunch closes at 10:00 in Ningbo, which is 02:00 UTC.
    assert dt.datetime.fromisoformat(menu["cutoff_at"]) == dt.datetime.combine(TOMORROW, dt.time(2, 0), tzinfo=dt.UTC)
    breakfast = await add_menu(client, canteen["id"], meal="breakfast")
    assert dt.datetime.fromisoformat(breakfast["cutoff_at"]) == dt.datetime.combine(
        TOMORROW - dt.timedelta(days=1), dt.time(12, 0), tzinfo=dt.UTC
    )  # 20:00 the evening before
    again = await client.post(
        f"{API}/canteens/{canteen['id']}/menus",
        headers=client.as_(YINZHOU),
        json={"served_on": TOMORROW.isoformat(), "meal": "lunch", "dishes": ["面"], "price_fen": 800, "capacity": 10},
    )
    assert again.status_code == 409 and again.json()["resource"] == f"menus/{menu['id']}"


async def test_menu_bad_input_and_other_areas(client):
    canteen = await add_canteen(client)
    url = f"{API}/canteens/{canteen['id']}/menus"
    good = {"served_on": TOMORROW.isoformat(), "meal": "dinner", "dishes": ["粥"], "price_fen": 500, "capacity": 5}
    for field, value in (
        ("capacity", 0),
        ("price_fen", -1),
        ("price_fen", 12.5),
        ("meal", "supper"),
        ("dishes", []),
        ("served_on", (clock.today() - dt.timedelta(days=1)).isoformat()),
    ):
        response = await client.post(url, headers=client.as_(YINZHOU), json=good | {field: value})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == field
    assert (await client.post(url, headers=client.as_(HAISHU), json=good)).status_code == 403
    assert (
        await client.post(f"{API}/canteens/999999/menus", headers=client.as_(YINZHOU), json=good)
    ).status_code == 404


# ---- subsidy rates ---------------------------------------------------------------------------------------


async def test_subsidy_rates_are_dated_per_district_versions(client):
    await add_rates(client)
    city = (
        await client.get(f"{API}/meal-subsidy-rates", params={"as_of": "2024-06-01"}, headers=client.as_(CITY))
    ).json()
    assert {r["tier"]: r["amount_fen"] for r in city["items"]}["tekun"] == 800
    yinzhou = (
        await client.get(
            f"{API}/meal-subsidy-rates", params={"as_of": "2024-06-01", "district": "330212"}, headers=client.as_(CITY)
        )
    ).json()
    by_tier = {r["tier"]: r for r in yinzhou["items"]}
    assert by_tier["tekun"]["amount_fen"] == 1000 and by_tier["tekun"]["district_code"] == "330212"
    assert by_tier["dibao"]["district_code"] == "330200"  # no district version: the city's applies
    before = (
        await client.get(
            f"{API}/meal-subsidy-rates", params={"as_of": "2022-12-31", "district": "330212"}, headers=client.as_(CITY)
        )
    ).json()
    assert {r["tier"]: r["amount_fen"] for r in before["items"]}["tekun"] == 800

    duplicate = await client.post(
        f"{API}/meal-subsidy-rates",
        headers=client.as_(CITY),
        json={
            "tier": "tekun",
            "district_code": "330212",
            "amount_fen": 1,
            "effective_on": "2023-01-01",
            "citation": "x1",
        },
    )
    assert duplicate.status_code == 409 and duplicate.json()["resource"].startswith("meal-subsidy-rates/")
    district_staff = staff("330212", RATES_WRITE)
    refused = await client.post(
        f"{API}/meal-subsidy-rates",
        headers=client.as_(district_staff),
        json={
            "tier": "tekun",
            "district_code": "330212",
            "amount_fen": 1,
            "effective_on": "2024-01-01",
            "citation": "x1",
        },
    )
    assert refused.status_code == 403


# ---- pricing -----------------------------------------------------------------------------------------------


async def test_dibao_price_comes_from_assistance_with_the_id_number_in_the_body(client, assistance):
    await add_rates(client)
    elder_id, number = await add_elder(client)
    assistance.programmes[number] = ["dibao"]
    menu = await add_menu(client, (await add_canteen(client))["id"])
    response = await order(client, menu["id"], elder_id, quantity=2)
    assert response.status_code == 201, response.text
    placed = response.json()
    assert placed["subsidy_tier"] == "dibao" and placed["subsidy_fen"] == 600
    assert placed["payable_fen"] == 1500 * 2 - 600  # the second portion is at full price
    assert placed["pricing_basis"] == "live" and placed["status_source"] == "assistance"
    [request] = assistance.requests
    assert request["body"] == {"id_number": number} and number not in request["url"]
    assert request["authorization"] == f"Bearer {PEER_TOKEN}"


async def test_the_most_generous_tier_applies_and_district_rates_win(client, assistance):
    await add_rates(client)
    tekun_id, tekun_number = await add_elder(client, birth=dt.date(1938, 1, 1), serial="021")
    assistance.programmes[tekun_number] = ["tekun", "disability_care_subsidy"]
    plain_id, _ = await add_elder(client, birth=dt.date(1940, 2, 2), serial="031")
    young_id, _ = await add_elder(client, birth=dt.date(TEST_DAY.year - 64, 3, 3), serial="041")
    menu = await add_menu(client, (await add_canteen(client))["id"], price_fen=900)
    tekun = (await order(client, menu["id"], tekun_id)).json()
    # 鄞州区's own 特困 rate (10 yuan) beats the city's, and is capped at the 9-yuan price: the meal is free.
    assert tekun["subsidy_tier"] == "tekun" and tekun["subsidy_fen"] == 900 and tekun["payable_fen"] == 0
    plain = (await order(client, menu["id"], plain_id)).json()
    assert (plain["subsidy_tier"], plain["payable_fen"]) == ("age_80_plus", 600)
    young = (await order(client, menu["id"], young_id)).json()
    assert (young["subsidy_tier"], young["payable_fen"]) == ("age_60_79", 800)


async def test_a_rate_version_added_prices_the_next_order(client):
    # The rates in force are kept per process between orders; a version added since is used at once.
    await add_rates(client)
    first_id, _ = await add_elder(client, birth=BORN_60_79, serial="051")
    second_id, _ = await add_elder(client, birth=BORN_60_79.replace(month=6, day=6), serial="061")
    menu = await add_menu(client, (await add_canteen(client))["id"])
    first = (await order(client, menu["id"], first_id)).json()
    assert (first["subsidy_tier"], first["subsidy_fen"]) == ("age_60_79", 100)
    added = await client.post(
        f"{API}/meal-subsidy-rates",
        headers=client.as_(CITY),
        json={
            "tier": "age_60_79",
            "district_code": "330212",
            "amount_fen": 250,
            "effective_on": clock.today().isoformat(),
            "citation": "test figures",
            "is_assumption": True,
        },
    )
    assert added.status_code == 201, added.text
    second = (await order(client, menu["id"], second_id)).json()
    assert (second["subsidy_fen"], second["subsidy_rate_id"]) == (250, added.json()["id"])


async def test_slow_assistance_falls_back_to_the_cached_status(client, assistance):
    await add_rates(client)
    elder_id, number = await add_elder(client)
    assistance.programmes[number] = ["dibao"]
    canteen = await add_canteen(client)
    lunch = await add_menu(client, canteen["id"])
    dinner = await add_menu(client, canteen["id"], meal="dinner")
    assert (await order(client, lunch["id"], elder_id)).json()["pricing_basis"] == "live"
    assistance.mode = "slow"
    started = asyncio.get_running_loop().time()
    response = await order(client, dinner["id"], elder_id)
    elapsed = asyncio.get_running_loop().time() - started
    placed = response.json()
    assert response.status_code == 201, response.text
    assert (placed["pricing_basis"], placed["status_source"], placed["subsidy_tier"]) == ("fallback", "cache", "dibao")
    assert elapsed < 1.0  # 300 ms, one retry: the person is not kept waiting on assistance


async def test_down_assistance_without_a_recent_status_prices_by_age(client, assistance):
    await add_rates(client)
    elder_id, number = await add_elder(client)
    assistance.programmes[number] = ["dibao"]
    canteen = await add_canteen(client)
    lunch = await add_menu(client, canteen["id"])
    dinner = await add_menu(client, canteen["id"], meal="dinner")
    # Lunch two days ahead: tomorrow's breakfast closes at 20:00 today, which a test run may be past.
    later = await add_menu(client, canteen["id"], served_on=(TOMORROW + dt.timedelta(days=1)).isoformat())
    assert (await order(client, lunch["id"], elder_id)).json()["status_source"] == "assistance"
    # The status on file is 25 hours old: too old to stand in for assistance.
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(AssistanceStatus)
            .where(AssistanceStatus.elder_id == elder_id)
            .values(fetched_at=utcnow() - dt.timedelta(hours=25))
        )
    await assistance.stop()
    placed = (await order(client, dinner["id"], elder_id)).json()
    assert (placed["pricing_basis"], placed["status_source"], placed["subsidy_tier"]) == (
        "fallback",
        "none",
        "age_60_79",
    )
    assert placed["payable_fen"] == 1400
    # A failing assistance (HTTP 503) is the same as a down one.
    await assistance.start()
    assistance.mode = "error"
    placed = (await order(client, later["id"], elder_id)).json()
    assert (placed["pricing_basis"], placed["subsidy_tier"]) == ("fallback", "age_60_79")


# ---- places, cut-offs, cancellations ---------------------------------------------------------------------


async def test_last_place_then_sold_out_naming_the_menu_and_cancel_gives_it_back(client):
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"], capacity=2)
    elders = [(await add_elder(client, serial=f"{i}51"))[0] for i in range(3)]
    first = await order(client, menu["id"], elders[0])
    assert (await order(client, menu["id"], elders[1], quantity=1)).status_code == 201
    sold_out = await order(client, menu["id"], elders[2])
    assert sold_out.status_code == 409 and sold_out.json()["resource"] == f"menus/{menu['id']}"
    assert "sold out" in sold_out.json()["detail"]
    assert await remaining(client, canteen["id"], menu["id"]) == 0
    cancelled = await client.post(f"{API}/meal-orders/{first.json()['id']}/cancel", headers=client.as_(YINZHOU))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await remaining(client, canteen["id"], menu["id"]) == 1
    twice = await client.post(f"{API}/meal-orders/{first.json()['id']}/cancel", headers=client.as_(YINZHOU))
    assert twice.status_code == 409
    assert await remaining(client, canteen["id"], menu["id"]) == 1
    assert (await order(client, menu["id"], elders[2])).status_code == 201
    # Asking for more portions than are left is refused whole.
    menu2 = await add_menu(client, canteen["id"], meal="dinner", capacity=2)
    assert (await order(client, menu2["id"], elders[0], quantity=3)).status_code == 409
    assert await remaining(client, canteen["id"], menu2["id"]) == 2


async def test_one_live_order_per_person_and_meal(client):
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    elder_id, _ = await add_elder(client)
    first = await order(client, menu["id"], elder_id)
    second = await order(client, menu["id"], elder_id, fulfilment="pick_up")
    assert second.status_code == 409 and second.json()["resource"] == f"meal-orders/{first.json()['id']}"
    assert await remaining(client, canteen["id"], menu["id"]) == 49


async def test_orders_after_the_cutoff_are_refused_and_so_are_late_cancellations(client):
    canteen = await add_canteen(client, cutoffs={"lunch": {"time": "00:00"}})
    today = await add_menu(client, canteen["id"], served_on=clock.today().isoformat())
    assert today["ordering_open"] is False
    elder_id, _ = await add_elder(client)
    late = await order(client, today["id"], elder_id)
    assert late.status_code == 400 and "closed" in late.json()["detail"]
    tomorrow = await add_menu(client, canteen["id"])
    placed = (await order(client, tomorrow["id"], elder_id)).json()
    # The clock passes the cut-off.
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Menu).where(Menu.id == tomorrow["id"]).values(cutoff_at=utcnow() - dt.timedelta(minutes=1))
        )
    refused = await client.post(f"{API}/meal-orders/{placed['id']}/cancel", headers=client.as_(YINZHOU))
    assert refused.status_code == 400 and "cut-off" in refused.json()["detail"]
    again = (await client.get(f"{API}/meal-orders/{placed['id']}", headers=client.as_(YINZHOU))).json()
    assert again["status"] == "placed"


async def test_delivery_only_within_the_canteens_areas(client):
    canteen = await add_canteen(client, delivery_area_codes=["330212001"])
    menu = await add_menu(client, canteen["id"])
    near_id, _ = await add_elder(client, area="330212001")
    far_id, _ = await add_elder(client, area="330212004", serial="061")
    delivered = await order(client, menu["id"], near_id, fulfilment="delivery")
    assert delivered.status_code == 201 and delivered.json()["delivery_address"] == "鄞州区百丈街道1号"
    far = await order(client, menu["id"], far_id, fulfilment="delivery")
    assert far.status_code == 400 and "330212004" in far.json()["detail"]
    odd = await order(client, menu["id"], far_id, fulfilment="dine_in", delivery_address="某地")
    assert odd.status_code == 422 and odd.json()["errors"][0]["field"] == "delivery_address"
    assert await remaining(client, canteen["id"], menu["id"]) == 49


async def test_a_retried_order_is_placed_once(client):
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    elder_id, _ = await add_elder(client)
    key = {"Idempotency-Key": "meal-retry-1"}
    first = await order(client, menu["id"], elder_id, headers=key)
    again = await order(client, menu["id"], elder_id, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await remaining(client, canteen["id"], menu["id"]) == 49


async def test_residents_order_for_the_people_they_care_for_only(client):
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    elder_id, _ = await add_elder(client)
    carer = resident(CARER, ORDERS_READ, ORDERS_WRITE)
    stranger = resident("resident:13900000099", ORDERS_READ, ORDERS_WRITE)
    placed = await order(client, menu["id"], elder_id, who=carer)
    assert placed.status_code == 201
    assert (await order(client, menu["id"], elder_id, who=stranger)).status_code == 404
    order_id = placed.json()["id"]
    for who, status in ((carer, 200), (stranger, 404), (HAISHU, 404), (YINZHOU, 200)):
        assert (await client.get(f"{API}/meal-orders/{order_id}", headers=client.as_(who))).status_code == status
    assert (await client.post(f"{API}/meal-orders/{order_id}/cancel", headers=client.as_(stranger))).status_code == 404
    mine = (await client.get(f"{API}/meal-orders", headers=client.as_(carer))).json()["items"]
    assert [o["id"] for o in mine] == [order_id]
    assert (await client.get(f"{API}/meal-orders", headers=client.as_(stranger))).json()["items"] == []
    assert (await order(client, 999999, elder_id, who=carer)).status_code == 404
