"""A lunchtime rush: many people order the last places at once. The menu is never oversold."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools

import pytest
from sqlalchemy import event, insert

from services.eldercare.elders.models import Elder, ElderCarer
from shared import direct
from shared.db import utcnow
from tests.conftest import resident
from tests.eldercare.test_elders import id_number
from tests.eldercare.test_meals import (
    API,
    CARER,
    HAISHU,
    ORDERS_READ,
    ORDERS_WRITE,
    YINZHOU,
    add_canteen,
    add_elder,
    add_menu,
    add_rates,
    order,
    remaining,
)
from tests.races import next_request_succeeds

_serial = itertools.count()


async def many_elders(client, count: int) -> list[int]:
    """Set-up only: `count` registered people (bulk-inserted; registration itself is tested elsewhere)."""
    births = [dt.date(1930, 1, 1) + dt.timedelta(days=next(_serial)) for _ in range(count)]
    rows = [
        dict(
            id_number=id_number("330212", birth, "019"),
            name="老人",
            sex="male",
            birth_on=birth,
            address="百丈东路",
            area_code="330212001",
            latitude=29.87,
            longitude=121.56,
            lives_alone=False,
            emergency_contacts=[],
            registered_by="test",
            created_at=utcnow(),
        )
        for birth in births
    ]
    async with client.app.state.database.sessionmaker() as session, session.begin():
        ids = list(await session.scalars(insert(Elder).returning(Elder.id), rows))
        await session.execute(insert(ElderCarer), [dict(elder_id=i, subject=CARER, relation="child") for i in ids])
    return ids


@contextlib.contextmanager
def statements_sent(client):
    """The SQL statements the app sends while the block runs, through SQLAlchemy or straight to the driver
    (shared.direct); BEGIN left out: on SQLite it is a statement."""
    sent: list[str] = []
    engine = client.app.state.database.engine.sync_engine

    def note(_connection, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            sent.append(statement)

    def watch(statement: str) -> contextlib.AbstractContextManager:
        note(None, None, statement)
        return contextlib.nullcontext()

    event.listen(engine, "before_cursor_execute", note)
    direct.WATCHERS.append(watch)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)
        direct.WATCHERS.remove(watch)


async def canteen_with_rates(client) -> dict:
    """A canteen, with the subsidy rates in force, so that every order of a race is priced from them."""
    await add_rates(client)
    return await add_canteen(client)


async def rush(client, orders: int, places: int):
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=places)
    elders = await many_elders(client, orders)
    responses = await asyncio.gather(*(order(client, menu["id"], e) for e in elders))
    return canteen, menu, elders, responses


async def orders_dinner_after_the_race(client, canteen: dict, elder_id: int) -> None:
    """The next ordinary order: dinner on the race's day, for one of its people (the losers' day and district, so
    priced from what the race read), at the age tier of many_elders' people."""
    dinner = await add_menu(client, canteen["id"], meal="dinner")
    placed = await next_request_succeeds(order(client, dinner["id"], elder_id))
    assert (placed["subsidy_tier"], placed["subsidy_fen"]) == ("age_80_plus", 300)


def a_loser(elders: list[int], responses) -> int:
    return next(e for e, r in zip(elders, responses, strict=False) if r.status_code != 201)


def assert_exactly(responses, places: int, menu_id: int):
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == places, sorted(set(statuses))
    refused = [r for r in responses if r.status_code != 201]
    assert all(
        r.status_code == 409 and r.json()["resource"] == f"menus/{menu_id}" and "sold out" in r.json()["detail"]
        for r in refused
    ), {r.text for r in refused[:3]}


async def test_concurrent_orders_take_exactly_the_places_there_are(committed_client):
    client = committed_client
    canteen, menu, elders, responses = await rush(client, orders=60, places=20)
    assert_exactly(responses, 20, menu["id"])
    assert await remaining(client, canteen["id"], menu["id"]) == 0
    await orders_dinner_after_the_race(client, canteen, a_loser(elders, responses))


@pytest.mark.postgresql_only
async def test_five_hundred_orders_at_fifty_places(committed_client, assistance):
    client = committed_client
    # Assistance is down: prices fall back at once (the breaker opens), so the test measures the places, not
    # the fake peer sharing this process's CPU.
    await assistance.stop()
    canteen, menu, elders, responses = await rush(client, orders=500, places=50)
    assert_exactly(responses, 50, menu["id"])
    assert await remaining(client, canteen["id"], menu["id"]) == 0
    placed = (
        await client.get(f"{API}/meal-orders", params={"limit": 100, "status": "placed"}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert len(placed) == 50
    await orders_dinner_after_the_race(client, canteen, a_loser(elders, responses))


async def test_concurrent_cancellations_give_the_place_back_once(committed_client):
    client = committed_client
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=5)
    [elder_id] = await many_elders(client, 1)
    placed = (await order(client, menu["id"], elder_id, quantity=2)).json()
    carer = resident(CARER, ORDERS_READ, ORDERS_WRITE)
    responses = await asyncio.gather(
        *(client.post(f"{API}/meal-orders/{placed['id']}/cancel", headers=client.as_(carer)) for _ in range(20))
    )
    assert sorted({r.status_code for r in responses}) == [200, 409]
    assert [r.status_code for r in responses].count(200) == 1
    assert await remaining(client, canteen["id"], menu["id"]) == 5
    await next_request_succeeds(order(client, menu["id"], elder_id))  # the person orders the meal again
    assert await remaining(client, canteen["id"], menu["id"]) == 4


async def test_one_person_ordering_one_meal_from_many_devices_gets_one_order(committed_client):
    client = committed_client
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=30)
    [elder_id] = await many_elders(client, 1)
    responses = await asyncio.gather(*(order(client, menu["id"], elder_id) for _ in range(15)))
    assert [r.status_code for r in responses].count(201) == 1
    assert {r.status_code for r in responses} == {201, 409}
    assert await remaining(client, canteen["id"], menu["id"]) == 29
    await orders_dinner_after_the_race(client, canteen, elder_id)


async def test_one_order_sent_many_times_with_one_key_is_placed_once_and_replayed(committed_client):
    """The key is claimed in the order's own transaction: the copies wait for it and replay its answer."""
    client = committed_client
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=30)
    [elder_id] = await many_elders(client, 1)
    key = {"Idempotency-Key": "one-order-many-sends"}
    responses = await asyncio.gather(*(order(client, menu["id"], elder_id, headers=key) for _ in range(10)))
    assert [r.status_code for r in responses] == [201] * 10, {r.text for r in responses}
    assert len({r.text for r in responses}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in responses].count("true") == 9
    assert await remaining(client, canteen["id"], menu["id"]) == 29
    await orders_dinner_after_the_race(client, canteen, elder_id)


async def test_a_refused_order_leaves_its_key_free_for_a_retry(committed_client):
    client = committed_client
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"], capacity=1)
    first, second = await many_elders(client, 2)
    taken = await order(client, menu["id"], first)
    key = {"Idempotency-Key": "retry-when-a-place-frees"}
    refused = await order(client, menu["id"], second, headers=key)
    assert refused.status_code == 409 and "sold out" in refused.json()["detail"]
    cancelled = await client.post(f"{API}/meal-orders/{taken.json()['id']}/cancel", headers=client.as_(YINZHOU))
    assert cancelled.status_code == 200
    retried = await order(client, menu["id"], second, headers=key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert await remaining(client, canteen["id"], menu["id"]) == 0


async def test_no_connection_is_held_while_assistance_is_asked(committed_client, assistance):
    client = committed_client
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    [elder_id] = await many_elders(client, 1)
    assistance.mode = "slow"
    pending = asyncio.create_task(order(client, menu["id"], elder_id, headers={"Idempotency-Key": "slow-peer"}))
    while not assistance.requests:  # the order is now waiting on assistance
        await asyncio.sleep(0.005)
    pool = client.app.state.database.engine.pool
    assert pool.checkedout() == 0
    response = await pending
    assert response.status_code == 201, response.text
    assert response.json()["pricing_basis"] == "fallback"


async def test_a_key_used_for_another_order_is_refused_and_writes_nothing(committed_client):
    client = committed_client
    canteen = await add_canteen(client)
    lunch = await add_menu(client, canteen["id"], capacity=5)
    dinner = await add_menu(client, canteen["id"], capacity=5, meal="dinner")
    [elder_id] = await many_elders(client, 1)
    key = {"Idempotency-Key": "one-key-two-orders"}
    assert (await order(client, lunch["id"], elder_id, headers=key)).status_code == 201
    other = await order(client, dinner["id"], elder_id, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await remaining(client, canteen["id"], dinner["id"]) == 5
    assert await remaining(client, canteen["id"], lunch["id"]) == 4


async def test_a_sold_out_order_is_refused_on_one_read_before_assistance_is_asked(committed_client, assistance):
    client = committed_client
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"], capacity=1)
    first, second = await many_elders(client, 2)
    assert (await order(client, menu["id"], first)).status_code == 201
    assistance.requests.clear()
    with statements_sent(client) as sent:
        refused = await order(client, menu["id"], second, headers={"Idempotency-Key": "sold-out-on-read"})
    assert refused.status_code == 409 and refused.json()["resource"] == f"menus/{menu['id']}", refused.text
    assert len(sent) == 1, sent  # the person, the menu and the key together; no transaction, nothing written
    assert not assistance.requests  # a refused order needs no price
    assert await remaining(client, canteen["id"], menu["id"]) == 0


async def test_an_order_refused_after_pricing_leaves_the_next_order_of_its_district_working(
    committed_client, monkeypatch
):
    """Two people of two districts race for the last lunch: the loser's transaction is rolled back after its
    district's subsidy rates were read. The next order from that district (dinner, same day) is priced as usual."""
    client = committed_client
    await add_rates(client)
    canteen = await add_canteen(client)
    lunch = await add_menu(client, canteen["id"], capacity=1)
    dinner = await add_menu(client, canteen["id"], capacity=10, meal="dinner")
    yinzhou = [(await add_elder(client, serial=f"0{n}1"))[0] for n in range(2)]
    haishu = [(await add_elder(client, serial=f"0{n}3", area="330203001", who=HAISHU))[0] for n in range(2)]
    # Both orders wait at assistance until both have read the menu (one place left), so both reach the
    # transaction and the loser is refused by the conditional update, after its rates were read.
    both_read = asyncio.Barrier(2)
    peer = client.app.state.assistance
    ask = peer.post_json

    async def ask_when_both_read(*args, **kwargs):
        await asyncio.wait_for(both_read.wait(), 60)  # a bound, so that an order lost on the way fails, not hangs
        return await ask(*args, **kwargs)

    monkeypatch.setattr(peer, "post_json", ask_when_both_read)
    race = await asyncio.gather(
        order(client, lunch["id"], yinzhou[0]), order(client, lunch["id"], haishu[0], who=HAISHU)
    )
    assert sorted(r.status_code for r in race) == [201, 409], [r.text for r in race]
    assert "sold out" in next(r for r in race if r.status_code == 409).json()["detail"]
    monkeypatch.setattr(peer, "post_json", ask)
    for elder_id, who in ((yinzhou[1], YINZHOU), (haishu[1], HAISHU)):
        dinner_order = await order(client, dinner["id"], elder_id, who=who)
        assert dinner_order.status_code == 201, dinner_order.text
        assert dinner_order.json()["subsidy_tier"] == "age_60_79" and dinner_order.json()["subsidy_fen"] == 100
