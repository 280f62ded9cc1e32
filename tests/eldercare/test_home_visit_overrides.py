"""A home visit with a caregiver whose provider works outside the person's area: refused naming the caregiver,
unless staff holding the override scope give a reason, which is audited."""

from __future__ import annotations

import datetime as dt

from tests.conftest import resident, staff
from tests.eldercare.test_homecare import (
    ALL,
    TOMORROW_9,
    V_READ,
    V_WRITE,
    YINZHOU,
    add_caregiver,
    add_service,
    order_visit,
)
from tests.eldercare.test_meals import API, CARER, add_elder

OVERRIDES_WRITE, OVERRIDES_READ = "eldercare.overrides:write", "eldercare.overrides:read"
ON_DUTY = staff("330212", *ALL, OVERRIDES_WRITE, subject="staff:yinzhou-duty")
AUDITOR = staff("330212", OVERRIDES_READ, subject="staff:auditor-yinzhou")
REASON = "本街道护理员均已排满，临时由邻街道服务中心派员"


async def far_caregiver(client) -> tuple[dict, dict, int]:
    """A service, a caregiver of a provider in 百丈街道 (330212001), and a person living in 东胜街道 (330212002)."""
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client, area="330212002", serial="021")
    return item, caregiver, elder_id


async def audit(client) -> list[dict]:
    return (await client.get(f"{API}/overrides", headers=client.as_(AUDITOR))).json()["items"]


async def test_a_caregiver_from_outside_the_persons_area_is_refused_naming_the_caregiver(client):
    item, caregiver, elder_id = await far_caregiver(client)
    booked = await order_visit(client, elder_id, item["id"], caregiver_id=caregiver["id"])
    assert booked.status_code == 409 and booked.json()["resource"] == f"caregivers/{caregiver['id']}", booked.text
    assert "outside the person's area 330212002" in booked.json()["detail"]
    requested = await order_visit(client, elder_id, item["id"])
    assert requested.status_code == 201
    scheduled = await client.post(
        f"{API}/visits/{requested.json()['id']}/schedule",
        headers=client.as_(YINZHOU),
        json={"caregiver_id": caregiver["id"]},
    )
    assert scheduled.status_code == 409 and scheduled.json()["resource"] == f"caregivers/{caregiver['id']}"
    # A caregiver of the person's own area is booked as before.
    near, _ = await add_elder(client, serial="022")
    assert (await order_visit(client, near, item["id"], caregiver_id=caregiver["id"])).status_code == 201


async def test_staff_with_the_override_scope_book_it_with_a_reason_and_it_is_audited(client):
    item, caregiver, elder_id = await far_caregiver(client)
    booked = await order_visit(
        client, elder_id, item["id"], who=ON_DUTY, caregiver_id=caregiver["id"], override_reason=REASON
    )
    assert booked.status_code == 201, booked.text
    visit = booked.json()
    assert visit["status"] == "scheduled" and visit["caregiver_id"] == caregiver["id"]
    requested = (await order_visit(client, elder_id, item["id"], starts_at=TOMORROW_9 + dt.timedelta(hours=3))).json()
    scheduled = await client.post(
        f"{API}/visits/{requested['id']}/schedule",
        headers=client.as_(ON_DUTY),
        json={"caregiver_id": caregiver["id"], "override_reason": REASON},
    )
    assert scheduled.status_code == 200 and scheduled.json()["status"] == "scheduled", scheduled.text
    rows = await audit(client)
    assert [(o["actor"], o["action"], o["resource"], o["conflict"], o["reason"], o["area_code"]) for o in rows] == [
        (
            "staff:yinzhou-duty",
            "home_visit_outside_area",
            f"visits/{v}",
            f"caregivers/{caregiver['id']}",
            REASON,
            "330212002",
        )
        for v in (requested["id"], visit["id"])
    ]


async def test_without_the_override_scope_or_as_a_resident_the_booking_is_refused(client):
    item, caregiver, elder_id = await far_caregiver(client)
    by_staff = await order_visit(client, elder_id, item["id"], caregiver_id=caregiver["id"], override_reason=REASON)
    assert by_staff.status_code == 403, by_staff.text
    carer = resident(CARER, V_READ, V_WRITE, OVERRIDES_WRITE)
    by_resident = await order_visit(
        client, elder_id, item["id"], who=carer, caregiver_id=caregiver["id"], override_reason=REASON
    )
    assert by_resident.status_code == 403, by_resident.text
    assert await audit(client) == []


async def test_a_blank_or_overlong_override_reason_is_a_422_naming_it(client):
    item, caregiver, elder_id = await far_caregiver(client)
    for reason in ("  ", "x" * 501):
        response = await order_visit(
            client, elder_id, item["id"], who=ON_DUTY, caregiver_id=caregiver["id"], override_reason=reason
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "override_reason"
