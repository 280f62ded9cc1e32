"""Personal-data requests (PIPL arts. 44–47) end to end through the gateway, with resident tokens: a copy of what the
suite holds about the resident and the people they act for; a deletion of what the law keeps refused at once with
the reason; a correction and a deletion tracked to staff's answer by the due day; another resident's data and
requests never shown; every step audited."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from gateway.principals import issue_token
from gateway.privacy.models import DataRequestEvent
from services.charity.main import create_app as create_charity
from shared import clock
from shared.identity import Principal
from tests.conftest import service_database, settings_for
from tests.eldercare.test_elders import id_number
from tests.gateway.conftest import bearer, gateway_client
from tests.shared.loopback import free_port, serve_in_background

PRIVACY, ELDERCARE, CHARITY = "/api/privacy/v1", "/api/eldercare/v1", "/api/charity/v1"
_people = itertools.count(1)
# A request's due day is reckoned here from `clock.today()` as the gateway reckons it: the same day, at noon.
pytestmark = pytest.mark.usefixtures("midday")


@pytest.fixture(scope="session")
async def upstream_charity(db_dir):
    database = await service_database("charity", "sqlite", db_dir, role="upstream")
    port = free_port()
    server, _task = await serve_in_background(create_charity(settings_for("charity", database.url)), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture
async def gateway(backend, upstream_eldercare, upstream_charity, db_dir):
    """The gateway (its register on each backend) before the real eldercare and charity."""
    database = await service_database("gateway", backend, db_dir)
    closed = {f"upstream_{name}": f"http://127.0.0.1:{free_port()}" for name in ("assistance", "placenames")}
    async for client in gateway_client(
        database, upstream_eldercare=upstream_eldercare, upstream_charity=upstream_charity, **closed
    ):
        yield client


@pytest.fixture(autouse=True)
def real_time_afterwards():
    try:
        yield
    finally:
        clock.reset()


def resident(gateway) -> tuple[str, dict[str, str]]:
    """A resident account of its own (its subject unique to the test run) and its bearer token."""
    from gateway.principals import RESIDENT_SCOPES

    subject = f"resident:privacy-{dt.datetime.now().timestamp():.0f}-{next(_people)}"
    principal = Principal(subject=subject, kind="resident", scopes=RESIDENT_SCOPES)
    return subject, {"Authorization": "Bearer " + issue_token(principal, gateway.settings.token_secret, 600)}


async def ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def a_family(gateway, carer: str, carer_headers: dict) -> dict:
    """鄞州区 staff register the carer's mother with the carer as her carer, read her ID number in the clear once
    (audited), and a canteen serves her a lunch the carer ordered; the carer also asked to act for another person,
    and offered a resource to charity."""
    staff = bearer("staff-yinzhou", gateway.settings)
    serial = f"{400 + next(_people) % 500:03d}"
    mother_number = id_number("330212", dt.date(1941, 2, 2), serial)
    mother = await ok(
        await gateway.post(
            f"{ELDERCARE}/elders",
            headers=staff,
            json={
                "id_number": mother_number,
                "name": "隐私老人",
                "address": "百丈东路9号",
                "area_code": "330212001",
                "carers": [{"subject": carer, "relation": "child"}],
            },
        )
    )
    await ok(
        await gateway.post(
            f"{ELDERCARE}/elders/{mother['id']}/pii-reads", headers=staff, json={"purpose": "电话回访核实地址"}
        )
    )
    canteen = await ok(
        await gateway.post(
            f"{ELDERCARE}/canteens",
            headers=staff,
            json={"name": "隐私测试食堂", "kind": "canteen", "area_code": "330212001", "address": "百丈东路1号"},
        )
    )
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    menu = await ok(
        await gateway.post(
            f"{ELDERCARE}/canteens/{canteen['id']}/menus",
            headers=staff,
            json={"served_on": tomorrow, "meal": "lunch", "dishes": ["面"], "price_fen": 1200, "capacity": 3},
        )
    )
    order = await ok(
        await gateway.post(
            f"{ELDERCARE}/meal-orders",
            headers=carer_headers,
            json={"menu_id": menu["id"], "elder_id": mother["id"], "fulfilment": "dine_in"},
        )
    )
    asked = await ok(
        await gateway.post(
            f"{ELDERCARE}/care-link-requests",
            headers=carer_headers,
            json={
                "id_number": id_number("330212", dt.date(1939, 9, 9), serial),
                "name": "王阿公",
                "relation": "other_relative",
            },
        )
    )
    offer = await ok(
        await gateway.post(
            f"{CHARITY}/resource-offers",
            headers=carer_headers,
            json={
                "offerer_kind": "person",
                "offerer_name": "隐私捐赠人",
                "contact_phone": "13912345678",
                "area_code": "330212",
                "category": "food",
                "description": "大米",
                "quantity": 10,
                "unit": "袋",
                "available_until": (clock.today() + dt.timedelta(days=30)).isoformat(),
            },
        )
    )
    return {"mother": mother, "mother_number": mother_number, "order": order, "asked": asked, "offer": offer}


def categories(copy: dict, service: str) -> dict[str, dict]:
    part = next(s for s in copy["services"] if s["service"] == service)
    assert part["available"], part
    return {c["category"]: c for c in part["categories"]}


async def request(gateway, headers, **body):
    return await gateway.post(f"{PRIVACY}/data-requests", headers=headers, json=body)


async def test_a_resident_sees_what_is_held_and_asks_for_corrections_and_deletions(gateway):
    carer, headers = resident(gateway)
    other, other_headers = resident(gateway)
    family = await a_family(gateway, carer, headers)
    mother_id = family["mother"]["id"]

    copy = await ok(await gateway.post(f"{PRIVACY}/copies", headers=headers))
    held = categories(copy, "eldercare")
    assert [r["id"] for r in held["elders"]["records"]] == [str(mother_id)]
    elder = held["elders"]["records"][0]
    assert elder["about"] == f"elder:{mother_id}" and elder["fields"]["name"] == "隐私老人"
    assert family["mother_number"] not in str(copy) and elder["fields"]["id_number"].count("*") >= 8  # masked
    assert (elder["erasable"], "address" in elder["correctable"]) == (False, True)
    [order] = held["meal_orders"]["records"]
    assert order["id"] == str(family["order"]["id"]) and "会计档案" in order["retention"]
    [read] = held["pii_reads"]["records"]  # who read the mother's data in the clear, and why
    assert (read["fields"]["purpose"], read["erasable"]) == ("电话回访核实地址", False)
    [asked] = held["care_link_requests"]["records"]
    assert (asked["id"], asked["erasable"]) == (str(family["asked"]["id"]), True)
    [offer] = categories(copy, "charity")["resource_offers"]["records"]
    assert offer["fields"]["contact_phone"] != "13912345678" and offer["erasable"] is True

    # Another resident: nothing of this family, in the copy or by naming its records.
    others = await ok(await gateway.post(f"{PRIVACY}/copies", headers=other_headers))
    assert "隐私老人" not in str(others) and all(c["count"] == 0 for c in categories(others, "eldercare").values()), (
        others
    )
    stranger = await request(
        gateway,
        other_headers,
        kind="deletion",
        service="eldercare",
        category="care_link_requests",
        record_id=str(family["asked"]["id"]),
    )
    assert stranger.status_code == 404

    # What the law keeps is refused at once, with the reason.
    kept = await ok(
        await request(
            gateway, headers, kind="deletion", service="eldercare", category="meal_orders", record_id=order["id"]
        )
    )
    assert kept["status"] == "refused" and kept["answer"].startswith("kept by law") and "会计档案" in kept["answer"]

    # A deletion and a correction wait for staff, due within the assumed 15 days.
    deletion = await ok(
        await request(
            gateway, headers, kind="deletion", service="eldercare", category="care_link_requests", record_id=asked["id"]
        )
    )
    assert deletion["status"] == "open" and deletion["due_on"] == (clock.today() + dt.timedelta(days=15)).isoformat()
    again = await request(
        gateway, headers, kind="deletion", service="eldercare", category="care_link_requests", record_id=asked["id"]
    )
    assert again.status_code == 409 and again.json()["resource"] == f"data-requests/{deletion['id']}"
    correction = await ok(
        await request(
            gateway,
            headers,
            kind="correction",
            service="eldercare",
            category="elders",
            record_id=str(mother_id),
            field="address",
            corrected_value="百丈东路19号",
            reason="门牌号写错了",
        )
    )
    assert correction["corrected_value"] == "百丈东路19号" and correction["about"] == f"elder:{mother_id}"
    not_correctable = await request(
        gateway,
        headers,
        kind="correction",
        service="eldercare",
        category="elders",
        record_id=str(mother_id),
        field="id_number",
        corrected_value="x",
    )
    assert not_correctable.status_code == 422 and not_correctable.json()["errors"][0]["field"] == "field"
    offer_deletion = await ok(
        await request(
            gateway, headers, kind="deletion", service="charity", category="resource_offers", record_id=offer["id"]
        )
    )

    # The other resident never sees these requests.
    assert (await gateway.get(f"{PRIVACY}/data-requests/{deletion['id']}", headers=other_headers)).status_code == 404
    theirs = await ok(await gateway.get(f"{PRIVACY}/data-requests", headers=other_headers), 200)
    assert {r["subject"] for r in theirs["items"]} == {other}
    mine = await ok(await gateway.get(f"{PRIVACY}/data-requests", headers=headers), 200)
    assert {r["kind"] for r in mine["items"]} == {"access", "correction", "deletion"}

    # Staff answer: a resident may not; agreeing to the deletion erases the record in eldercare.
    body = {"outcome": "done", "answer": "已删除未审核的关联申请"}
    answer_path = f"{PRIVACY}/data-requests/{deletion['id']}/answer"
    assert (await gateway.post(answer_path, headers=headers, json=body)).status_code == 403
    city = bearer("staff-city", gateway.settings)
    done = await ok(await gateway.post(answer_path, headers=city, json=body), 200)
    assert (done["status"], done["answered_by"]) == ("done", "staff:city-demo")
    assert (await gateway.post(answer_path, headers=city, json=body)).status_code == 409
    after = categories(await ok(await gateway.post(f"{PRIVACY}/copies", headers=headers)), "eldercare")
    assert after["care_link_requests"]["count"] == 0 and after["elders"]["count"] == 1
    trail = await ok(await gateway.get(f"{PRIVACY}/data-requests/{deletion['id']}", headers=headers), 200)
    assert [e["action"] for e in trail["events"]] == ["submitted", "erased", "answered"]
    assert trail["events"][0]["actor"] == carer and trail["events"][2]["actor"] == "staff:city-demo"

    # Past the due day an open request is overdue in staff's queue; answering it erases the charity offer.
    clock.advance(dt.timedelta(days=16))
    overdue = await ok(await gateway.get(f"{PRIVACY}/data-requests", headers=city, params={"overdue": "true"}), 200)
    assert {r["id"] for r in overdue["items"]} >= {correction["id"], offer_deletion["id"]}
    assert all(r["overdue"] for r in overdue["items"])
    listed = next(r for r in overdue["items"] if r["id"] == correction["id"])
    assert listed["corrected_value"] == "百******"  # personal data: masked in staff's list, clear on the request
    opened = await ok(await gateway.get(f"{PRIVACY}/data-requests/{correction['id']}", headers=city), 200)
    assert opened["corrected_value"] == "百丈东路19号"
    await ok(
        await gateway.post(
            f"{PRIVACY}/data-requests/{offer_deletion['id']}/answer",
            headers=city,
            json={"outcome": "done", "answer": "已删除"},
        ),
        200,
    )
    await ok(
        await gateway.post(
            f"{PRIVACY}/data-requests/{correction['id']}/answer",
            headers=city,
            json={"outcome": "done", "answer": "街道已按户口簿更正地址"},
        ),
        200,
    )
    final = await ok(await gateway.post(f"{PRIVACY}/copies", headers=headers))
    assert categories(final, "charity")["resource_offers"]["count"] == 0


async def test_a_service_that_does_not_answer_costs_only_its_part(gateway):
    _carer, headers = resident(gateway)
    assert "assistance" in gateway.app.local_app.state.privacy_peers.services  # its port is closed here
    copy = await ok(await gateway.post(f"{PRIVACY}/copies", headers=headers))
    parts = {s["service"]: s for s in copy["services"]}
    assert parts["eldercare"]["available"] and parts["gateway"]["available"]
    assert parts["assistance"]["available"] is False and "assistance" in parts["assistance"]["message"]
    refused = await request(
        gateway, headers, kind="deletion", service="assistance", category="households", record_id="1"
    )
    assert refused.status_code == 503
    register = await ok(await gateway.get(f"{PRIVACY}/data-requests/{copy['request_id']}", headers=headers), 200)
    assert register["kind"] == "access" and "assistance" in register["answer"]


async def test_bad_requests_name_the_field_and_the_audit_is_append_only(gateway):
    _carer, headers = resident(gateway)
    for field, value in (("kind", "access"), ("service", "bank"), ("category", "DROP TABLE"), ("record_id", "1 OR 1")):
        body = {"kind": "deletion", "service": "eldercare", "category": "elders", "record_id": "1"} | {field: value}
        response = await gateway.post(f"{PRIVACY}/data-requests", headers=headers, json=body)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    assert (await gateway.post(f"{PRIVACY}/copies", headers=bearer("partner", gateway.settings))).status_code == 403
    copy = await ok(await gateway.post(f"{PRIVACY}/copies", headers=headers))
    async with gateway.app.local_app.state.database.sessionmaker() as session:
        for statement in ("UPDATE data_request_events SET actor = 'x'", "DELETE FROM data_request_events"):
            with pytest.raises(IntegrityError):
                async with session.begin_nested():
                    await session.execute(text(statement))
        kept = await session.scalars(
            select(DataRequestEvent.action).where(DataRequestEvent.data_request_id == copy["request_id"])
        )
        assert list(kept) == ["copied"]


async def test_a_request_number_no_row_can_have_is_a_422_naming_it(gateway):
    # The register's routes took any integer: one past what the id column holds reached the database (asyncpg
    # refuses it, SQLite overflows) and answered 500.
    _carer, headers = resident(gateway)
    city = bearer("staff-city", gateway.settings)
    for path, send, who in (("", gateway.get, headers), ("/answer", gateway.post, city)):
        for number in (2**70, 2**31, 0):
            kwargs = {"json": {"outcome": "refused", "answer": "无"}} if who is city else {}
            response = await send(f"{PRIVACY}/data-requests/{number}{path}", headers=who, **kwargs)
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["field"] == "request_id", response.text
