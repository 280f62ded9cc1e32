"""Canteen settlement (助餐结算): each month's statement per canteen reconciles with its orders to the fen, is
produced again without change while the orders are unchanged, is approved by the canteen's district and then
locked in the database; a refund that comes after the lock is settled as an adjustment in the month it is made."""

from __future__ import annotations

import datetime as dt
import io
import itertools

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.eldercare.jobs import tasks
from services.eldercare.settlements.service import XLSX_MEDIA_TYPE as XLSX
from services.eldercare.settlements.service import month_bounds, month_of
from shared import clock
from tests.conftest import staff
from tests.eldercare.test_meals import (
    API,
    BORN_60_79,
    ORDERS_READ,
    TOMORROW,
    YINZHOU,
    add_canteen,
    add_elder,
    add_menu,
    add_rates,
    order,
)
from tests.jobs import run_jobs

READ, WRITE, APPROVE = (
    "eldercare.meal_statements:read",
    "eldercare.meal_statements:write",
    "eldercare.meal_statements:approve",
)
DISTRICT = staff("330212", READ, WRITE, APPROVE, ORDERS_READ, subject="staff:yinzhou-settlement")
STREET = staff("330212001", READ, WRITE, APPROVE, subject="staff:baizhang-settlement")
CITY = staff("330200", READ, WRITE, APPROVE, subject="staff:city-settlement")
HAISHU = staff("330203", READ, WRITE, APPROVE, subject="staff:haishu-settlement")
MONTH = month_of(TOMORROW)  # the month the test's meals are served in
NEXT_MONTH = month_of(month_bounds(MONTH)[1])
_serials = itertools.count(201)


def after_the_month(days: int = 1) -> None:
    """Move the clock to noon (Asia/Shanghai) `days` days after the test month has ended."""
    noon = dt.datetime.combine(month_bounds(MONTH)[1], dt.time(12), tzinfo=clock.SHANGHAI) + dt.timedelta(days=days - 1)
    clock.advance(noon - clock.now())


@pytest.fixture(autouse=True)
def real_time_afterwards():
    try:
        yield
    finally:
        clock.reset()


async def month_of_orders(client, assistance) -> dict:
    """A canteen's month: a person of 60–79's two meals (one of 2 portions), an 80+ person's meal, a cancelled one,
    and a meal at another canteen that must not count. (Age tiers: priced alike whether assistance answers in time
    or not, so the figures do not depend on the machine's load.)"""
    await add_rates(client)
    canteen = await add_canteen(client)
    other = await add_canteen(client, name="另一个食堂")
    lunch = await add_menu(client, canteen["id"], price_fen=1500)
    dinner = await add_menu(client, canteen["id"], meal="dinner", price_fen=1200)
    elsewhere = await add_menu(client, other["id"], price_fen=1500)
    younger, _ = await add_elder(client, birth=BORN_60_79, serial=f"{next(_serials)}")
    old, _ = await add_elder(client, birth=dt.date(1940, 1, 1), serial=f"{next(_serials)}")
    placed = []
    for menu, elder, quantity in ((lunch, younger, 2), (dinner, younger, 1), (lunch, old, 1), (elsewhere, old, 1)):
        response = await order(client, menu["id"], elder, quantity=quantity)
        assert response.status_code == 201, response.text
        placed.append(response.json())
    cancelled = (await order(client, dinner["id"], old)).json()
    response = await client.post(f"{API}/meal-orders/{cancelled['id']}/cancel", headers=client.as_(YINZHOU))
    assert response.status_code == 200, response.text
    return {"canteen": canteen, "orders": placed[:3], "cancelled": cancelled, "elsewhere": placed[3]}


async def produce(client, canteen_id: int, month: str = MONTH, who=DISTRICT):
    return await client.post(
        f"{API}/canteens/{canteen_id}/meal-statements", headers=client.as_(who), json={"month": month}
    )


async def approve(client, statement: dict, who=DISTRICT, revision: int | None = None):
    body = {"revision": revision or statement["revision"]}
    return await client.post(f"{API}/meal-statements/{statement['id']}/approve", headers=client.as_(who), json=body)


async def refund(client, order_id: int, who=DISTRICT):
    return await client.post(
        f"{API}/meal-orders/{order_id}/refund", headers=client.as_(who), json={"reason": "送餐未送达"}
    )


async def orders_listed(client, canteen_id: int) -> list[dict]:
    """Every order of the canteen, read through the orders' own list (not the statement's queries)."""
    found, cursor = [], None
    while True:
        params = {"canteen_id": canteen_id, "limit": 100} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/meal-orders", headers=client.as_(DISTRICT), params=params)).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def summed_independently(orders: list[dict], month: str, refunded: dict[int, str]) -> dict[str, int]:
    """What the statement must say, summed here from the orders as the API lists them."""
    of_month = [o for o in orders if o["served_on"].startswith(month)]
    placed = [o for o in of_month if o["status"] == "placed"]
    refunds = [o for o in placed if refunded.get(o["id"]) == month]
    return {
        "orders": len(placed),
        "portions": sum(o["quantity"] for o in placed),
        "gross_fen": sum(o["unit_price_fen"] * o["quantity"] for o in placed),
        "subsidy_fen": sum(o["subsidy_fen"] for o in placed),
        "payable_fen": sum(o["payable_fen"] for o in placed),
        "cancelled_orders": sum(o["status"] == "cancelled" for o in of_month),
        "refunds": len(refunds),
        "refunded_subsidy_fen": sum(o["subsidy_fen"] for o in refunds),
        "net_subsidy_fen": sum(o["subsidy_fen"] for o in placed) - sum(o["subsidy_fen"] for o in refunds),
    }


async def test_a_month_reconciles_with_its_orders_to_the_fen_and_locks_once_approved(client, assistance):
    month = await month_of_orders(client, assistance)
    canteen_id = month["canteen"]["id"]
    younger_lunch, younger_dinner, old_lunch = month["orders"]
    assert (younger_lunch["subsidy_tier"], younger_lunch["subsidy_fen"]) == ("age_60_79", 100)
    after_the_month()

    assert (await refund(client, younger_dinner["id"])).json()["month"] == MONTH  # settled in its own month, still open
    first = await produce(client, canteen_id)
    assert first.status_code == 200, first.text
    statement = first.json()
    refunded = {younger_dinner["id"]: MONTH}
    expected = summed_independently(await orders_listed(client, canteen_id), MONTH, refunded)
    assert {k: statement[k] for k in expected} == expected
    assert expected["subsidy_fen"] == 100 + 100 + 300 and expected["net_subsidy_fen"] == 400
    assert statement["status"] == "draft" and statement["revision"] == 1
    lines = {(line["section"], line["tier"]): line for line in statement["lines"]}
    assert lines["placed", "age_60_79"]["orders"] == 2 and lines["placed", "age_60_79"]["portions"] == 3
    assert (
        lines["placed", "age_60_79"]["gross_fen"] == 2 * 1500 + 1200
        and lines["placed", "age_80_plus"]["subsidy_fen"] == 300
    )
    assert lines["cancelled", "age_80_plus"]["orders"] == 1 and lines["refund", "age_60_79"]["subsidy_fen"] == 100
    for field in ("orders", "subsidy_fen", "payable_fen", "gross_fen"):
        assert sum(line[field] for line in statement["lines"] if line["section"] == "placed") == statement[field]

    again = (await produce(client, canteen_id)).json()  # nothing changed: the same statement, revision and all
    assert again == statement

    # Approval: the canteen's district only, the revision reviewed, once.
    assert (await approve(client, statement, who=STREET)).status_code == 403
    assert (await approve(client, statement, who=CITY)).status_code == 403
    assert (await approve(client, statement, who=HAISHU)).status_code == 404
    stale = await approve(client, statement, revision=2)
    assert stale.status_code == 409 and stale.json()["resource"] == f"meal-statements/{statement['id']}"
    approved = await approve(client, statement)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == DISTRICT.subject
    twice = await approve(client, statement)
    assert twice.status_code == 409 and "already approved" in twice.json()["detail"]
    assert (await produce(client, canteen_id)).status_code == 409  # locked

    # A refund after the lock: settled in the month it is made, as an adjustment; the locked month is unchanged.
    late = await refund(client, old_lunch["id"])
    assert late.status_code == 201, late.text
    assert (late.json()["month"], late.json()["is_adjustment"]) == (NEXT_MONTH, True)
    assert (await refund(client, old_lunch["id"])).status_code == 409
    unchanged = await client.get(f"{API}/meal-statements/{statement['id']}", headers=client.as_(DISTRICT))
    assert unchanged.json() == approved.json()
    following = (await produce(client, canteen_id, NEXT_MONTH)).json()
    assert following["adjustments"] == 1 and following["adjustment_subsidy_fen"] == 300
    assert following["subsidy_fen"] == 0 and following["net_subsidy_fen"] == -300


async def test_the_database_refuses_to_change_a_settled_month(client, assistance):
    month = await month_of_orders(client, assistance)
    canteen_id, (first_order, *_) = month["canteen"]["id"], month["orders"]
    after_the_month()
    statement = (await produce(client, canteen_id)).json()
    assert (await approve(client, statement)).status_code == 200
    async with client.app.state.database.sessionmaker() as session:
        for statement_sql in (
            f"UPDATE meal_orders SET subsidy_fen = 0 WHERE id = {first_order['id']}",
            f"UPDATE meal_orders SET status = 'cancelled' WHERE id = {first_order['id']}",
            f"DELETE FROM meal_orders WHERE id = {first_order['id']}",
            f"UPDATE meal_statements SET net_subsidy_fen = 1, subsidy_fen = 1 + refunded_subsidy_fen + "
            f"adjustment_subsidy_fen WHERE id = {statement['id']}",
            f"DELETE FROM meal_statement_lines WHERE statement_id = {statement['id']}",
            f"INSERT INTO meal_refunds (order_id, canteen_id, order_month, month, subsidy_fen, payable_fen, reason, "
            f"refunded_by, created_at) VALUES ({first_order['id']}, {canteen_id}, '{MONTH}', '{MONTH}', 100, 2900, "
            "'x', 'test', CURRENT_TIMESTAMP)",
        ):
            with pytest.raises(IntegrityError):
                async with session.begin_nested():
                    await session.execute(text(statement_sql))
        # The order of another canteen's month is not locked.
        async with session.begin_nested():
            await session.execute(
                text(f"UPDATE meal_orders SET delivery_address = NULL WHERE id = {first_order['id']}")
            )
        await session.rollback()
    # And the next ordinary request still works.
    response = await client.get(f"{API}/meal-statements/{statement['id']}", headers=client.as_(DISTRICT))
    assert response.status_code == 200 and response.json()["status"] == "approved"


async def test_the_export_lists_every_order_and_adds_up(client, assistance):
    month = await month_of_orders(client, assistance)
    canteen_id = month["canteen"]["id"]
    after_the_month()
    statement = (await produce(client, canteen_id)).json()
    response = await client.get(f"{API}/meal-statements/{statement['id']}/export", headers=client.as_(DISTRICT))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert f"meal-statement-{canteen_id}-{MONTH}.csv" in response.headers["content-disposition"]
    rows = [line.split(",") for line in response.text.lstrip("\ufeff").splitlines()]
    orders = rows[next(i for i, row in enumerate(rows) if row[0] == "order_id") + 1 :]
    assert sorted(int(r[0]) for r in orders) == sorted(o["id"] for o in [*month["orders"], month["cancelled"]])
    assert sum(int(r[7]) for r in orders if r[9] == "placed") == statement["subsidy_fen"]
    assert month["elsewhere"]["id"] not in {int(r[0]) for r in orders}
    assert "测试老人" not in response.text  # people by register id only
    outside = await client.get(f"{API}/meal-statements/{statement['id']}/export", headers=client.as_(HAISHU))
    assert outside.status_code == 404

    # The same rows as .xlsx (shared/spreadsheets.py); another format is a 422 naming it.
    xlsx = await client.get(
        f"{API}/meal-statements/{statement['id']}/export", headers=client.as_(DISTRICT), params={"format": "xlsx"}
    )
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX, xlsx.text[:200]
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    at = next(i for i, row in enumerate(cells) if row and row[0] == "order_id") + 1
    assert [row[0] for row in cells[at:]] == [int(r[0]) for r in orders]
    assert sum(row[7] for row in cells[at:] if row[9] == "placed") == statement["subsidy_fen"]
    other = await client.get(
        f"{API}/meal-statements/{statement['id']}/export", headers=client.as_(DISTRICT), params={"format": "pdf"}
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "format"


async def test_bad_requests_get_clear_answers(client, assistance):
    month = await month_of_orders(client, assistance)
    canteen_id = month["canteen"]["id"]
    for bad in ("2026-13", "26-01", "2026-1", 202601):
        response = await client.post(
            f"{API}/canteens/{canteen_id}/meal-statements", headers=client.as_(DISTRICT), json={"month": bad}
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "month", response.text
    future = await produce(client, canteen_id, month_of(month_bounds(NEXT_MONTH)[1]))
    assert future.status_code == 400
    # Before the cut-off a meal is cancelled, not refunded; before the month ends it is not approved.
    assert (await refund(client, month["orders"][0]["id"])).status_code == 400
    draft = (await produce(client, canteen_id)).json()
    assert (await approve(client, draft)).status_code == 400
    assert (await refund(client, month["cancelled"]["id"])).status_code == 409
    assert (await produce(client, canteen_id, who=HAISHU)).status_code == 404
    bad_revision = await client.post(
        f"{API}/meal-statements/{draft['id']}/approve", headers=client.as_(DISTRICT), json={"revision": 0}
    )
    assert bad_revision.status_code == 422 and bad_revision.json()["errors"][0]["field"] == "revision"


async def test_the_monthly_job_produces_last_months_statements_once(client, assistance):
    month = await month_of_orders(client, assistance)
    canteen_id = month["canteen"]["id"]
    first_day = dt.datetime.combine(month_bounds(MONTH)[1], dt.time(1, 5), tzinfo=clock.SHANGHAI)
    clock.advance(first_day - clock.now())
    ran = await run_jobs(client.app, tasks)
    assert ("meal_statements.produce", "succeeded") in ran
    statements = {}
    for canteen in (canteen_id, month["elsewhere"]["canteen_id"]):
        params = {"month": MONTH, "canteen_id": canteen}
        [statements[canteen]] = (
            await client.get(f"{API}/meal-statements", headers=client.as_(DISTRICT), params=params)
        ).json()["items"]
    assert statements[canteen_id]["generated_by"] == "system:eldercare-worker"
    assert statements[canteen_id]["subsidy_fen"] == 100 + 100 + 300
    assert ("meal_statements.produce", "succeeded") not in await run_jobs(client.app, tasks)  # once per slot
