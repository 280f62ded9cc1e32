"""Canteen settlement through the gateway, as district staff and a resident use it: a statement produced on demand,
read and exported as CSV; approval waits for the month's end; a resident never sees statements."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from shared import clock
from tests.conftest import service_database
from tests.eldercare.test_elders import id_number
from tests.gateway.conftest import bearer, gateway_client
from tests.shared.loopback import free_port

API = "/api/eldercare/v1"
_serials = itertools.count(301)
# Tomorrow's menu is in the month produced below: not so on a month's last day, whose next month has not begun.
pytestmark = pytest.mark.usefixtures("midday")


@pytest.fixture
async def gateway(upstream_eldercare, db_dir):
    """The gateway before the real eldercare, with the ordinary deadlines; the other services are not running (a
    meal is then priced without assistance's answer, as the fallback says)."""
    database = await service_database("gateway", "sqlite", db_dir)
    closed = {f"upstream_{name}": f"http://127.0.0.1:{free_port()}" for name in ("assistance", "charity", "placenames")}
    async for client in gateway_client(database, upstream_eldercare=upstream_eldercare, **closed):
        yield client


async def test_district_staff_produce_read_and_export_a_statement_through_the_gateway(gateway):
    staff, resident = bearer("staff-yinzhou", gateway.settings), bearer("resident", gateway.settings)
    tomorrow = clock.today() + dt.timedelta(days=1)
    canteen = await gateway.post(
        f"{API}/canteens",
        headers=staff,
        json={"name": "结算测试食堂", "kind": "canteen", "area_code": "330212001", "address": "百丈东路1号"},
    )
    assert canteen.status_code == 201, canteen.text
    canteen_id = canteen.json()["id"]
    menu = await gateway.post(
        f"{API}/canteens/{canteen_id}/menus",
        headers=staff,
        json={"served_on": tomorrow.isoformat(), "meal": "lunch", "dishes": ["米饭"], "price_fen": 1500, "capacity": 5},
    )
    assert menu.status_code == 201, menu.text
    elder = await gateway.post(
        f"{API}/elders",
        headers=staff,
        json={
            "id_number": id_number("330212", dt.date(1945, 3, 3), f"{next(_serials)}"),
            "name": "结算老人",
            "address": "百丈东路2号",
            "area_code": "330212001",
        },
    )
    assert elder.status_code == 201, elder.text
    ordered = await gateway.post(
        f"{API}/meal-orders",
        headers=staff,
        json={"menu_id": menu.json()["id"], "elder_id": elder.json()["id"], "fulfilment": "dine_in"},
    )
    assert ordered.status_code == 201, ordered.text

    month = tomorrow.strftime("%Y-%m")
    produced = await gateway.post(f"{API}/canteens/{canteen_id}/meal-statements", headers=staff, json={"month": month})
    assert produced.status_code == 200, produced.text
    statement = produced.json()
    assert (statement["orders"], statement["gross_fen"], statement["status"]) == (1, 1500, "draft")
    assert statement["subsidy_fen"] + statement["payable_fen"] == 1500
    exported = await gateway.get(f"{API}/meal-statements/{statement['id']}/export", headers=staff)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert str(ordered.json()["id"]) in exported.text and "结算测试食堂" in exported.text
    early = await gateway.post(
        f"{API}/meal-statements/{statement['id']}/approve", headers=staff, json={"revision": statement["revision"]}
    )
    assert early.status_code == 400 and early.headers["content-type"].startswith("application/problem+json")
    assert (await gateway.get(f"{API}/meal-statements/{statement['id']}", headers=resident)).status_code == 403
