"""Emergency admission over another person's bed hold: staff with the override scope and a stated reason may,
the hold says it was overridden and why, the override is audited; nobody else may, and a bed is still never
booked twice."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import resident, staff
from tests.eldercare.test_beds import ALL, API, CARER_P, HAISHU, YINZHOU, add_beds, add_institution, bed, hold
from tests.eldercare.test_meals_concurrency import many_elders
from tests.races import next_request_succeeds

OVERRIDES_WRITE, OVERRIDES_READ = "eldercare.overrides:write", "eldercare.overrides:read"
ON_DUTY = staff("330212", *ALL, OVERRIDES_WRITE, subject="staff:yinzhou-duty")
HAISHU_ON_DUTY = staff("330203", *ALL, OVERRIDES_WRITE, subject="staff:haishu-duty")
YINZHOU_AUDITOR = staff("330212", OVERRIDES_READ, subject="staff:auditor-yinzhou")
HAISHU_AUDITOR = staff("330203", OVERRIDES_READ, subject="staff:auditor-haishu")
REASON = "急诊转入：独居老人夜间跌倒，医院要求当晚入住"


async def held_bed(client) -> tuple[int, dict, int]:
    """A bed another person holds, and the person who needs it at once."""
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "nursing")
    holder, urgent = await many_elders(client, 2)
    held = await hold(client, bed_id, holder, who=CARER_P)
    assert held.status_code == 201, held.text
    return bed_id, held.json(), urgent


def emergency(client, bed_id, elder_id, who=ON_DUTY, **body):
    return client.post(
        f"{API}/emergency-admissions",
        headers=client.as_(who),
        json={"bed_id": bed_id, "elder_id": elder_id, "override_reason": REASON} | body,
    )


async def test_staff_with_the_override_scope_admit_over_a_hold_which_records_why(client):
    bed_id, held, urgent = await held_bed(client)
    ordinary = await client.post(
        f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": bed_id, "elder_id": urgent}
    )
    assert ordinary.status_code == 409 and ordinary.json()["resource"] == f"beds/{bed_id}"
    response = await emergency(client, bed_id, urgent)
    assert response.status_code == 201, response.text
    admission = response.json()
    assert admission["bed_id"] == bed_id and admission["elder_id"] == urgent and admission["status"] == "active"
    assert (await bed(client, bed_id))["occupancy"] == "occupied"
    the_hold = (await client.get(f"{API}/bed-holds/{held['id']}", headers=client.as_(CARER_P))).json()
    assert the_hold["status"] == "released" and the_hold["override_reason"] == REASON
    assert the_hold["override_id"] is not None
    audit = (await client.get(f"{API}/overrides", headers=client.as_(YINZHOU_AUDITOR))).json()["items"]
    assert [
        (o["id"], o["actor"], o["action"], o["resource"], o["conflict"], o["reason"], o["area_code"]) for o in audit
    ] == [
        (
            the_hold["override_id"],
            "staff:yinzhou-duty",
            "emergency_admission",
            f"admissions/{admission['id']}",
            f"bed-holds/{held['id']}",
            REASON,
            "330212001",
        )
    ]
    assert f"bed {bed_id} is held until" in audit[0]["conflict_detail"] and audit[0]["at"]


async def test_the_override_audit_is_for_auditors_of_the_area(client):
    bed_id, _held, urgent = await held_bed(client)
    assert (await emergency(client, bed_id, urgent)).status_code == 201
    assert (await client.get(f"{API}/overrides", headers=client.as_(HAISHU_AUDITOR))).json()["items"] == []
    # Doing overrides is not reading their audit.
    assert (await client.get(f"{API}/overrides", headers=client.as_(ON_DUTY))).status_code == 403
    assert (await client.get(f"{API}/overrides", headers=client.as_(CARER_P))).status_code == 403


async def test_staff_without_the_override_scope_or_of_another_area_are_refused(client):
    bed_id, held, urgent = await held_bed(client)
    assert (await emergency(client, bed_id, urgent, who=YINZHOU)).status_code == 403
    assert (await emergency(client, bed_id, urgent, who=HAISHU)).status_code == 403
    assert (await emergency(client, bed_id, urgent, who=HAISHU_ON_DUTY)).status_code == 403
    the_hold = (await client.get(f"{API}/bed-holds/{held['id']}", headers=client.as_(CARER_P))).json()
    assert the_hold["status"] == "active" and the_hold["override_id"] is None
    assert (await client.get(f"{API}/overrides", headers=client.as_(YINZHOU_AUDITOR))).json()["items"] == []


async def test_a_resident_never_overrides_even_with_the_scope(client):
    bed_id, _held, urgent = await held_bed(client)
    carer = resident(CARER_P.subject, *CARER_P.scopes, OVERRIDES_WRITE)
    for who in (CARER_P, carer):
        assert (await emergency(client, bed_id, urgent, who=who)).status_code == 403
    assert (await bed(client, bed_id))["occupancy"] == "held"


async def test_an_override_without_a_reason_is_a_422_naming_it(client):
    bed_id, _held, urgent = await held_bed(client)
    for body in ({"override_reason": None}, {"override_reason": "   "}, {"override_reason": "x" * 501}):
        response = await emergency(client, bed_id, urgent, **body)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "override_reason", body
    missing = await client.post(
        f"{API}/emergency-admissions", headers=client.as_(ON_DUTY), json={"bed_id": bed_id, "elder_id": urgent}
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "override_reason"
    assert (await bed(client, bed_id))["occupancy"] == "held"


async def test_an_override_never_displaces_an_admitted_person(client):
    bed_id, held, urgent = await held_bed(client)
    assert (await client.post(f"{API}/bed-holds/{held['id']}/confirm", headers=client.as_(YINZHOU))).status_code == 201
    response = await emergency(client, bed_id, urgent)
    assert response.status_code == 409 and response.json()["resource"] == f"beds/{bed_id}", response.text
    assert (await client.get(f"{API}/overrides", headers=client.as_(YINZHOU_AUDITOR))).json()["items"] == []


async def test_two_overrides_of_one_held_bed_at_once_admit_one_person(committed_client):
    client = committed_client
    bed_id, held, _urgent = await held_bed(client)
    urgent = await many_elders(client, 6)
    responses = await asyncio.gather(*(emergency(client, bed_id, e) for e in urgent))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, [r.text for r in responses]
    assert all(r.json()["resource"] == f"beds/{bed_id}" for r in responses if r.status_code == 409)
    active = (
        await client.get(f"{API}/admissions", params={"active": True, "bed_id": bed_id}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert len(active) == 1
    audit = (await client.get(f"{API}/overrides", headers=client.as_(YINZHOU_AUDITOR))).json()["items"]
    assert len(audit) == 1 and audit[0]["conflict"] == f"bed-holds/{held['id']}"
    # The losers' path still serves: another held bed, overridden for one of them.
    loser = next(e for e, r in zip(urgent, responses, strict=False) if r.status_code == 409)
    institution = await add_institution(client, name="鄞州区第二福利院")
    [other_bed] = await add_beds(client, institution["id"], "nursing", prefix="2-20")
    [other_holder] = await many_elders(client, 1)
    assert (await hold(client, other_bed, other_holder, who=CARER_P)).status_code == 201
    await next_request_succeeds(emergency(client, other_bed, loser))


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_override_audit_refuses_update_and_delete(client, change):
    """Whoever can write to the database still cannot quietly rewrite or remove why a hold was overridden."""
    bed_id, _held, urgent = await held_bed(client)
    assert (await emergency(client, bed_id, urgent)).status_code == 201
    statement = "UPDATE overrides SET reason = 'nothing to see'" if change == "update" else "DELETE FROM overrides"
    async with client.app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(text(statement))
        await session.rollback()
    [record] = (await client.get(f"{API}/overrides", headers=client.as_(YINZHOU_AUDITOR))).json()["items"]
    assert record["reason"] == REASON
