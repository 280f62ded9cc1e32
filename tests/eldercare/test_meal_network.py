"""The meal network (老年助餐): central kitchens (中央厨房) supply canteens (老年食堂) and meal points (助餐点); a menu
published at a supplier reaches its points, each with its own places; the indicators count each level."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from services.eldercare.meals.models import Canteen
from shared import migrations
from shared.db import make_engine
from tests.conftest import staff
from tests.eldercare.test_meals import API, YINZHOU, add_canteen, add_elder, add_menu, order, remaining
from tests.indicators import cells, item


async def network(client) -> tuple[dict, dict, dict, dict]:
    kitchen = await add_canteen(client, name="鄞州中央厨房", kind="central_kitchen")
    canteen = await add_canteen(client, name="百丈街道老年食堂", supplied_by=kitchen["id"])
    first = await add_canteen(client, name="东柳助餐点", kind="meal_point", supplied_by=kitchen["id"])
    second = await add_canteen(
        client, name="钟公庙助餐点", kind="meal_point", area_code="330212004", supplied_by=canteen["id"]
    )
    return kitchen, canteen, first, second


async def test_canteens_say_who_supplies_them(client):
    kitchen, canteen, first, second = await network(client)
    assert kitchen["supplied_by"] is None and canteen["supplied_by"] == kitchen["id"]
    assert first["supplied_by"] == kitchen["id"] and second["supplied_by"] == canteen["id"]
    got = (await client.get(f"{API}/canteens/{second['id']}", headers=client.as_(YINZHOU))).json()
    assert got["kind"] == "meal_point" and got["supplied_by"] == canteen["id"]


async def test_supplier_must_exist_and_be_of_a_higher_level(client):
    kitchen, canteen, first, _ = await network(client)
    headers = client.as_(YINZHOU)
    base = {"name": "某助餐点", "area_code": "330212001", "address": "某路1号"}
    for kind, supplied_by in (
        ("meal_point", None),  # a meal point has a supplier
        ("meal_point", first["id"]),  # not another meal point
        ("canteen", canteen["id"]),  # a canteen only from a central kitchen
        ("canteen", first["id"]),
        ("central_kitchen", kitchen["id"]),  # a central kitchen has none
        ("meal_point", 999_999),
    ):  # a supplier that exists
        response = await client.post(
            f"{API}/canteens", headers=headers, json=base | {"kind": kind, "supplied_by": supplied_by}
        )
        assert response.status_code == 422, (kind, supplied_by, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["supplied_by"]


async def test_database_refuses_a_supplier_of_the_same_level_or_a_meal_point_without_one(client):
    kitchen, canteen, first, _ = await network(client)
    for values in (
        {"supplied_by_id": first["id"], "supplier_kind": "meal_point"},  # the kind is the supplier's...
        {"supplied_by_id": canteen["id"], "supplier_kind": "central_kitchen"},  # ...and must be true
        {"supplied_by_id": None, "supplier_kind": None},
    ):
        with pytest.raises(IntegrityError):
            async with client.app.state.database.sessionmaker() as session, session.begin():
                await session.execute(update(Canteen).where(Canteen.id == first["id"]).values(**values))
    with pytest.raises(IntegrityError):  # a central kitchen has no supplier
        async with client.app.state.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(Canteen)
                .where(Canteen.id == kitchen["id"])
                .values(supplied_by_id=canteen["id"], supplier_kind="canteen")
            )


async def test_menu_published_from_a_kitchen_reaches_its_points_each_with_its_own_capacity(client):
    kitchen, canteen, first, second = await network(client)
    menu = await add_menu(
        client,
        kitchen["id"],
        capacity=40,
        points=[{"canteen_id": first["id"], "capacity": 1}, {"canteen_id": canteen["id"]}],
    )
    assert menu["canteen_id"] == kitchen["id"] and menu["capacity"] == 40
    assert [(m["canteen_id"], m["capacity"], m["remaining"]) for m in menu["points"]] == [
        (first["id"], 1, 1),
        (canteen["id"], 40, 40),
    ]
    assert {m["dishes"] == menu["dishes"] and m["price_fen"] == menu["price_fen"] for m in menu["points"]} == {True}
    at_point = (
        await client.get(
            f"{API}/canteens/{first['id']}/menus", headers=client.as_(YINZHOU), params={"to": menu["served_on"]}
        )
    ).json()
    assert [m["id"] for m in at_point] == [menu["points"][0]["id"]]
    # Orders at the point stop at the point's capacity, whatever is left at the kitchen.
    point_menu = menu["points"][0]["id"]
    one, _ = await add_elder(client, serial="021")
    two, _ = await add_elder(client, serial="031")
    assert (await order(client, point_menu, one)).status_code == 201
    refused = await order(client, point_menu, two)
    assert refused.status_code == 409, refused.text
    assert await remaining(client, first["id"], point_menu) == 0
    assert await remaining(client, kitchen["id"], menu["id"]) == 40
    # A canteen publishes to the points it supplies too.
    dinner = await add_menu(
        client, canteen["id"], meal="dinner", capacity=30, points=[{"canteen_id": second["id"], "capacity": 12}]
    )
    assert [(m["canteen_id"], m["capacity"]) for m in dinner["points"]] == [(second["id"], 12)]


async def test_menu_is_published_only_to_points_the_canteen_supplies_and_all_or_none(client):
    kitchen, _canteen, first, second = await network(client)
    headers = client.as_(YINZHOU)
    body = {
        "served_on": (await add_menu(client, first["id"], meal="dinner"))["served_on"],
        "meal": "lunch",
        "dishes": ["米饭"],
        "price_fen": 1200,
        "capacity": 20,
    }
    for points in (
        [{"canteen_id": second["id"]}],  # supplied by the canteen, not the kitchen
        [{"canteen_id": first["id"]}, {"canteen_id": first["id"]}],  # named twice
        [{"canteen_id": first["id"], "capacity": 0}],
    ):
        response = await client.post(
            f"{API}/canteens/{kitchen['id']}/menus", headers=headers, json=body | {"points": points}
        )
        assert response.status_code == 422, (points, response.text)
        assert response.json()["errors"][0]["field"].startswith("points.")
    # The point already has this meal's menu: a 409, and the kitchen's menu is not published either.
    await add_menu(client, first["id"])
    response = await client.post(
        f"{API}/canteens/{kitchen['id']}/menus", headers=headers, json=body | {"points": [{"canteen_id": first["id"]}]}
    )
    assert response.status_code == 409, response.text
    menus = (
        await client.get(f"{API}/canteens/{kitchen['id']}/menus", headers=headers, params={"to": body["served_on"]})
    ).json()
    assert menus == []


async def test_indicators_count_kitchens_canteens_and_meal_points_separately(client):
    await network(client)
    viewer = staff("330212", "eldercare.indicators:read", subject="staff:yinzhou-indicators")
    response = await client.get(f"{API}/indicators", headers=client.as_(viewer))
    assert response.status_code == 200, response.text
    body = response.json()
    # The plan's target (标准化老年食堂 150) counts canteens only, not kitchens or meal points.
    canteens = item(body, "canteens", kind="canteen")
    assert canteens["value"] == 1 and canteens["target"]["value"] == 150 and canteens["target"]["new_in_year"]
    assert item(body, "canteens", kind="meal_point")["value"] == 2
    assert item(body, "canteens", kind="meal_point")["target"] is None
    assert cells(body, "canteens", "kind") == {"central_kitchen": 1, "canteen": 1, "meal_point": 2}
    assert [i for i in body["items"] if i["code"] == "canteens" and not i["dimensions"]] == []  # no sum of levels


MEAL_POINT = (
    "INSERT INTO canteens (name, kind, area_code, address, delivery_area_codes, cutoff_minutes, is_active, "
    "created_by, created_at) VALUES (:name, 'meal_point', '330212001', '某路1号', '[]', '{}', true, 'seed', "
    "'2026-01-01 00:00:00')"
)


async def _execute(url: str, statement: str, **params) -> list | None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(r) for r in result.all()] if result.returns_rows else None
    finally:
        await engine.dispose()


def test_upgrade_keeps_a_meal_point_registered_without_a_supplier_and_refuses_new_ones(scratch_database):
    # Synchronous on purpose: alembic runs its own event loop. A scratch database of this test's own.
    url = scratch_database("eldercare_meal_network")
    migrations.upgrade("eldercare", url, "5663f0df0229")
    asyncio.run(_execute(url, MEAL_POINT, name="旧助餐点"))
    migrations.upgrade("eldercare", url, "aa3c5b9f18a2")
    assert asyncio.run(_execute(url, "SELECT kind, supplied_by_id, supplier_kind FROM canteens")) == [
        ("meal_point", None, None)
    ]
    with pytest.raises(IntegrityError):
        asyncio.run(_execute(url, MEAL_POINT, name="新助餐点"))
    migrations.downgrade("eldercare", url, "5663f0df0229")
    assert asyncio.run(_execute(url, "SELECT name FROM canteens")) == [("旧助餐点",)]
