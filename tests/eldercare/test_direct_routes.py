"""The hot writes sent straight to the driver (shared/direct.py: meal orders, bed holds) under what goes wrong:
ids too large for a column, connections the server ended, a request cancelled while its statement waits. Each
answers as the routes through SQLAlchemy do, the pool gets every connection back, nothing is half-written, and the
next ordinary request (a retry under the same Idempotency-Key too) is served.

On PostgreSQL these run on a real pool (committed_client): a test's outer transaction would take the routes
through SQLAlchemy instead (see shared.direct.connect)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db import make_engine
from tests.conftest import service_database
from tests.eldercare.test_beds import YINZHOU as BEDS
from tests.eldercare.test_beds import add_beds, add_institution
from tests.eldercare.test_meals import API, add_canteen, add_menu, order, remaining
from tests.eldercare.test_meals_concurrency import canteen_with_rates, many_elders
from tests.races import next_request_succeeds

TOO_LARGE = 3_000_000_000  # past PostgreSQL's 4-byte integer, within 8 bytes


async def hold(client, bed_id, elder_id, headers=None):
    return await client.post(
        f"{API}/bed-holds", headers=client.as_(BEDS) | (headers or {}), json={"bed_id": bed_id, "elder_id": elder_id}
    )


def checked_out(client) -> int:
    return client.app.state.database.engine.pool.checkedout()


async def count(client, sql: str, **params) -> int:
    async with client.app.state.database.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


def assert_names(response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field], response.text


async def test_a_meal_order_or_hold_naming_an_id_no_column_holds_is_a_422_naming_it(committed_client, backend):
    """What the SQLAlchemy routes answer (tests/shared/test_out_of_range.py): the caller's number, not a database
    that stopped answering (a 503 that sends clients to retry the same request for ever)."""
    client = committed_client
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=5)
    [elder_id] = await many_elders(client, 1)
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "nursing")
    # Past 8 bytes, and (PostgreSQL's integer column) past 4; SQLite's integers all have 8.
    for too_large in (2**63, *([TOO_LARGE] if backend == "postgresql" else [])):
        assert_names(await order(client, too_large, elder_id), "menu_id")
        assert_names(await order(client, menu["id"], too_large, headers={"Idempotency-Key": "k"}), "elder_id")
        assert_names(await hold(client, too_large, elder_id), "bed_id")
        assert_names(await hold(client, bed_id, too_large, headers={"Idempotency-Key": "k"}), "elder_id")
    for refused in (0, -1, "x", 1.5, None, [1]):
        assert (await order(client, refused, elder_id)).status_code == 422
        assert (await hold(client, bed_id, refused)).status_code == 422
    assert checked_out(client) == 0
    assert await count(client, "SELECT count(*) FROM meal_orders") == 0
    assert await count(client, "SELECT count(*) FROM idempotency_keys") == 0
    await next_request_succeeds(order(client, menu["id"], elder_id, headers={"Idempotency-Key": "k2"}))
    await next_request_succeeds(hold(client, bed_id, elder_id))
    assert checked_out(client) == 0


@pytest.mark.postgresql_only
async def test_once_the_server_ends_the_pools_connections_one_request_at_most_is_refused(committed_client):
    """A failover or a restart ends every connection of the pool: the first request to find its connection dead
    answers 503 and the pool drops the connections of that age, so the next request connects afresh
    (shared.db.make_engine), on the hot routes as on the others."""
    client = committed_client
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=50)
    elders = await many_elders(client, 12)
    # Several pooled connections, each used by an order at once.
    placed = await asyncio.gather(*(order(client, menu["id"], e) for e in elders[:6]))
    assert [r.status_code for r in placed] == [201] * 6
    assert client.app.state.database.engine.pool.checkedin() >= 2
    database = client.app.state.database.url.rsplit("/", 1)[-1]
    other = make_engine(client.app.state.database.url)
    try:
        async with other.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
    finally:
        await other.dispose()
    # The harness's own pool (it empties the tables afterwards) lost its connections too.
    await (await service_database("eldercare", "postgresql", None)).engine.dispose()
    await asyncio.sleep(0.2)
    answers = [await order(client, menu["id"], e) for e in elders[6:]]
    statuses = [r.status_code for r in answers]
    assert statuses[0] in (201, 503), answers[0].text
    assert statuses[1:] == [201] * 5, [r.text for r in answers]
    assert checked_out(client) == 0


@pytest.mark.postgresql_only
async def test_an_order_cancelled_while_waiting_leaves_nothing_and_its_key_retries(committed_client):
    """A client gone (or a deadline passed) while the order waits on the menu's row (its insert's foreign key): its transaction, the key's
    claim with it, is rolled back, the connection is not handed on half-way, and the retry under the same key is
    placed once."""
    client = committed_client
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"], capacity=5)
    [elder_id] = await many_elders(client, 1)
    key = {"Idempotency-Key": "cancelled-midway"}
    blocker = make_engine(client.app.state.database.url)
    try:
        async with blocker.connect() as connection:
            await connection.execute(text("SELECT 1 FROM menus WHERE id = :id FOR UPDATE"), {"id": menu["id"]})
            task = asyncio.create_task(order(client, menu["id"], elder_id, headers=key))
            for _ in range(100):  # until the order waits on the row's lock
                await asyncio.sleep(0.05)
                waiting = await count(
                    client,
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
                )
                if waiting:
                    break
            assert waiting
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await connection.rollback()
    finally:
        await blocker.dispose()
    assert checked_out(client) == 0
    assert await count(client, "SELECT count(*) FROM meal_orders") == 0
    assert await count(client, "SELECT count(*) FROM idempotency_keys") == 0
    assert await remaining(client, canteen["id"], menu["id"]) == 5
    placed = await next_request_succeeds(order(client, menu["id"], elder_id, headers=key))
    replayed = await order(client, menu["id"], elder_id, headers=key)
    assert replayed.json() == placed and replayed.headers["Idempotent-Replayed"] == "true"
    assert await remaining(client, canteen["id"], menu["id"]) == 4
    assert checked_out(client) == 0


async def test_one_key_for_two_bodies_is_refused_and_a_refused_holds_key_retries(committed_client):
    client = committed_client
    canteen = await canteen_with_rates(client)
    menu = await add_menu(client, canteen["id"], capacity=5)
    first, second = await many_elders(client, 2)
    key = {"Idempotency-Key": "one-key"}
    placed = await order(client, menu["id"], first, headers=key)
    assert placed.status_code == 201, placed.text
    other = await order(client, menu["id"], second, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key", other.text
    replayed = await order(client, menu["id"], first, headers=key)
    assert replayed.json() == placed.json() and replayed.headers["Idempotent-Replayed"] == "true"
    # A hold refused (the bed taken), then retried under its key once the bed is free elsewhere: not stuck.
    institution = await add_institution(client)
    bed_a, bed_b = await add_beds(client, institution["id"], "nursing", 2)
    assert (await hold(client, bed_a, first)).status_code == 201
    hold_key = {"Idempotency-Key": "hold-key"}
    refused = await hold(client, bed_a, second, headers=hold_key)
    assert refused.status_code == 409, refused.text
    assert (await hold(client, bed_b, second, headers=hold_key)).status_code == 201
    assert checked_out(client) == 0
