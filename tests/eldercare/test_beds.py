"""Institution beds: availability, holds that lapse by themselves, admission, discharge and the waitlist."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from services.eldercare.beds.models import BedOccupancy
from shared import clock
from shared.db import utcnow
from tests.conftest import resident, staff
from tests.eldercare.test_meals import API, CARER, ELDERS_READ, ELDERS_WRITE, add_elder

BEDS_READ, BEDS_WRITE = "eldercare.beds:read", "eldercare.beds:write"
HOLDS_WRITE, ADMISSIONS_READ = "eldercare.bed_holds:write", "eldercare.admissions:read"
ALL = (ELDERS_READ, ELDERS_WRITE, BEDS_READ, BEDS_WRITE, HOLDS_WRITE, ADMISSIONS_READ)
YINZHOU = staff("330212", *ALL, subject="staff:yinzhou")
HAISHU = staff("330203", *ALL, subject="staff:haishu")
CARER_P = resident(CARER, BEDS_READ, HOLDS_WRITE, ADMISSIONS_READ)


async def add_institution(client, who=YINZHOU, **overrides) -> dict:
    body = {
        "name": "鄞州区社会福利中心",
        "ownership": "public",
        "star_rating": 4,
        "area_code": "330212001",
        "address": "鄞州区天童南路1号",
        "latitude": 29.82,
        "longitude": 121.55,
    } | overrides
    response = await client.post(f"{API}/institutions", headers=client.as_(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def add_beds(client, institution_id: int, bed_type="nursing", count=1, who=YINZHOU, prefix="1-10") -> list[int]:
    ids = []
    for n in range(count):
        response = await client.post(
            f"{API}/beds",
            headers=client.as_(who),
            json={"institution_id": institution_id, "label": f"{prefix}{n}-{bed_type}", "bed_type": bed_type},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def hold(client, bed_id, elder_id, who=YINZHOU, **extra):
    return await client.post(
        f"{API}/bed-holds", headers=client.as_(who), json={"bed_id": bed_id, "elder_id": elder_id} | extra
    )


async def bed(client, bed_id) -> dict:
    return (await client.get(f"{API}/beds/{bed_id}", headers=client.as_(YINZHOU))).json()


async def lapse(client, hold_id: int):
    """The clock passes the hold's deadline."""
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(BedOccupancy).where(BedOccupancy.id == hold_id).values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )


async def test_institutions_and_beds_with_their_rules(client):
    institution = await add_institution(client)
    assert institution["district_code"] == "330212"
    for field, value in (("star_rating", 6), ("ownership", "mixed"), ("area_code", "12")):
        response = await client.post(
            f"{API}/institutions",
            headers=client.as_(YINZHOU),
            json={"name": "某院", "ownership": "private", "area_code": "330212001", "address": "某路"} | {field: value},
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
    assert (
        await client.post(
            f"{API}/institutions",
            headers=client.as_(HAISHU),
            json={"name": "某院", "ownership": "private", "area_code": "330212001", "address": "某路"},
        )
    ).status_code == 403
    [bed_id] = await add_beds(client, institution["id"])
    again = await client.post(
        f"{API}/beds",
        headers=client.as_(YINZHOU),
        json={"institution_id": institution["id"], "label": "1-100-nursing", "bed_type": "general"},
    )
    assert again.status_code == 409 and again.json()["resource"] == f"beds/{bed_id}"
    bad = await client.post(
        f"{API}/beds",
        headers=client.as_(YINZHOU),
        json={"institution_id": institution["id"], "label": "x", "bed_type": "luxury"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "bed_type"
    other = await client.post(
        f"{API}/beds",
        headers=client.as_(HAISHU),
        json={"institution_id": institution["id"], "label": "y", "bed_type": "general"},
    )
    assert other.status_code == 403


async def test_hold_confirm_discharge_and_availability(client):
    institution = await add_institution(client)
    nursing = await add_beds(client, institution["id"], "nursing", 2)
    [dementia] = await add_beds(client, institution["id"], "dementia")
    elder_id, _ = await add_elder(client)
    free = (
        await client.get(
            f"{API}/beds",
            params={"bed_type": "nursing", "district_code": "330212", "available_on": clock.today().isoformat()},
            headers=client.as_(CARER_P),
        )
    ).json()["items"]
    assert [b["id"] for b in free] == nursing

    held = await hold(client, nursing[0], elder_id, who=CARER_P)
    assert held.status_code == 201, held.text
    assert held.json()["status"] == "active" and held.json()["purpose"] == "booking"
    deadline = dt.datetime.fromisoformat(held.json()["expires_at"])
    assert dt.timedelta(minutes=29) < deadline - utcnow() <= dt.timedelta(minutes=30)
    assert (await bed(client, nursing[0]))["occupancy"] == "held"
    free = (
        await client.get(f"{API}/beds", params={"bed_type": "nursing", "free": True}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert [b["id"] for b in free] == nursing[1:]

    # Residents hold; only staff of the institution's area admit.
    assert (
        await client.post(f"{API}/bed-holds/{held.json()['id']}/confirm", headers=client.as_(CARER_P))
    ).status_code == 403
    assert (
        await client.post(f"{API}/bed-holds/{held.json()['id']}/confirm", headers=client.as_(HAISHU))
    ).status_code == 404
    admitted = await client.post(f"{API}/bed-holds/{held.json()['id']}/confirm", headers=client.as_(YINZHOU))
    assert admitted.status_code == 201, admitted.text
    admission = admitted.json()
    assert admission["status"] == "active" and admission["hold_id"] == held.json()["id"]
    assert (await bed(client, nursing[0]))["occupancy"] == "occupied"
    hold_now = (await client.get(f"{API}/bed-holds/{held.json()['id']}", headers=client.as_(CARER_P))).json()
    assert hold_now["status"] == "confirmed" and hold_now["admission_id"] == admission["id"]

    # One person per bed; one active admission per person.
    other_id, _ = await add_elder(client, serial="071")
    taken = await hold(client, nursing[0], other_id)
    assert taken.status_code == 409 and taken.json()["resource"] == f"beds/{nursing[0]}"
    elsewhere = await hold(client, dementia, elder_id)
    assert elsewhere.status_code == 409 and elsewhere.json()["resource"] == f"admissions/{admission['id']}"
    direct = await client.post(
        f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": nursing[1], "elder_id": elder_id}
    )
    assert direct.status_code == 409

    out = await client.post(
        f"{API}/admissions/{admission['id']}/discharge", headers=client.as_(YINZHOU), json={"reason": "回家养老"}
    )
    assert out.status_code == 200 and out.json()["status"] == "discharged"
    assert out.json()["discharged_on"] == clock.today().isoformat()
    assert (await bed(client, nursing[0]))["occupancy"] == "free"
    again = await client.post(
        f"{API}/admissions/{admission['id']}/discharge", headers=client.as_(YINZHOU), json={"reason": "回家养老"}
    )
    assert again.status_code == 409
    assert (await hold(client, nursing[0], other_id)).status_code == 201


async def test_a_hold_past_its_deadline_frees_the_bed_by_itself(client):
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "general")
    first_id, _ = await add_elder(client)
    second_id, _ = await add_elder(client, serial="081")
    held = (await hold(client, bed_id, first_id, minutes=5)).json()
    assert (await hold(client, bed_id, second_id)).status_code == 409
    await lapse(client, held["id"])
    # Nothing has run: reads already see the bed free and the hold expired.
    assert (await bed(client, bed_id))["occupancy"] == "free"
    assert (await client.get(f"{API}/bed-holds/{held['id']}", headers=client.as_(YINZHOU))).json()[
        "status"
    ] == "expired"
    late = await client.post(f"{API}/bed-holds/{held['id']}/confirm", headers=client.as_(YINZHOU))
    assert late.status_code == 409 and late.json()["resource"] == f"bed-holds/{held['id']}"
    taken = await hold(client, bed_id, second_id)
    assert taken.status_code == 201, taken.text
    # The lapsed hold no longer blocks its holder either.
    [other_bed] = await add_beds(client, institution["id"], "general", prefix="2-20")
    assert (await hold(client, other_bed, first_id)).status_code == 201


async def test_release_frees_the_bed_and_bad_input_is_refused(client):
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "general")
    elder_id, _ = await add_elder(client)
    for body in (
        {"bed_id": bed_id, "elder_id": elder_id, "minutes": 0},
        {"bed_id": bed_id, "elder_id": elder_id, "minutes": "ten"},
        {"bed_id": bed_id},
    ):
        response = await client.post(f"{API}/bed-holds", headers=client.as_(YINZHOU), json=body)
        assert response.status_code == 422
    assert (await hold(client, 999999, elder_id)).status_code == 404
    held = (await hold(client, bed_id, elder_id)).json()
    released = await client.post(f"{API}/bed-holds/{held['id']}/release", headers=client.as_(CARER_P))
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert (await bed(client, bed_id))["occupancy"] == "free"
    assert (await client.post(f"{API}/bed-holds/{held['id']}/release", headers=client.as_(CARER_P))).status_code == 409
    past = await client.get(f"{API}/beds", params={"available_on": "2020-01-01"}, headers=client.as_(YINZHOU))
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "available_on"
    stranger = resident("resident:13900000077", HOLDS_WRITE, ADMISSIONS_READ)
    assert (await hold(client, bed_id, elder_id, who=stranger)).status_code == 404
    assert (await client.get(f"{API}/bed-holds/{held['id']}", headers=client.as_(stranger))).status_code == 404


async def join(client, elder_id, bed_type="nursing", **extra):
    response = await client.post(
        f"{API}/waitlist", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "bed_type": bed_type} | extra
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_family_does_not_state_the_capability_level_that_ranks_the_waitlist(client):
    """A resident joining the waitlist for the person they care for could state assessment_level 4 (完全失能) for
    someone never assessed, and went before everyone assessed at 3. The level is staff's to state: a resident's is a
    422 naming it, nothing written; without it the person joins, ranked by what is recorded."""
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "nursing")
    occupant, _ = await add_elder(client, serial="091")
    admitted = await client.post(
        f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": bed_id, "elder_id": occupant}
    )
    assert admitted.status_code == 201, admitted.text
    assessed, _ = await add_elder(client, serial="101")
    cared_for, _ = await add_elder(client, serial="111")  # CARER acts for add_elder's people
    staff_entry = await join(client, assessed, assessment_level=3)
    claimed = await client.post(
        f"{API}/waitlist",
        headers=client.as_(CARER_P),
        json={"elder_id": cared_for, "bed_type": "nursing", "assessment_level": 4},
    )
    assert claimed.status_code == 422, claimed.text
    assert [e["field"] for e in claimed.json()["errors"]] == ["assessment_level"]
    joined = await client.post(
        f"{API}/waitlist", headers=client.as_(CARER_P), json={"elder_id": cared_for, "bed_type": "nursing"}
    )
    assert joined.status_code == 201, joined.text
    assert joined.json()["assessment_level"] is None
    listed = (await client.get(f"{API}/waitlist", params={"bed_type": "nursing"}, headers=client.as_(YINZHOU))).json()
    assert [(e["id"], e["position"]) for e in listed] == [(staff_entry["id"], 1), (joined.json()["id"], 2)]


async def test_waitlist_priority_offers_and_lapsed_offers_pass_on(client, assistance):
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "nursing")
    occupant, _ = await add_elder(client, serial="091")
    admission = (
        await client.post(
            f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": bed_id, "elder_id": occupant}
        )
    ).json()
    early, _ = await add_elder(client, serial="101")
    dependent, _ = await add_elder(client, serial="111")
    tekun, tekun_number = await add_elder(client, serial="121")
    assistance.programmes[tekun_number] = ["tekun"]
    first = await join(client, early, assessment_level=2)
    second = await join(client, dependent, assessment_level=4)
    third = await join(client, tekun, assessment_level=1)
    assert third["is_tekun"] is True and third["priority_basis"] == "live"
    listed = (await client.get(f"{API}/waitlist", params={"bed_type": "nursing"}, headers=client.as_(YINZHOU))).json()
    assert [(e["id"], e["position"]) for e in listed] == [(third["id"], 1), (second["id"], 2), (first["id"], 3)]
    duplicate = await client.post(
        f"{API}/waitlist", headers=client.as_(YINZHOU), json={"elder_id": early, "bed_type": "nursing"}
    )
    assert duplicate.status_code == 409 and duplicate.json()["resource"] == f"waitlist/{first['id']}"

    # The bed frees: the 特困 person is offered it, with a deadline.
    out = (
        await client.post(
            f"{API}/admissions/{admission['id']}/discharge", headers=client.as_(YINZHOU), json={"reason": "去世"}
        )
    ).json()
    offer = (await client.get(f"{API}/bed-holds/{out['next_offer_id']}", headers=client.as_(YINZHOU))).json()
    assert (offer["elder_id"], offer["purpose"], offer["bed_id"]) == (tekun, "offer", bed_id)
    entry = (await client.get(f"{API}/waitlist/{third['id']}", headers=client.as_(YINZHOU))).json()
    assert entry["status"] == "offered" and entry["offer_id"] == offer["id"] and entry["position"] is None
    # Someone not on the list cannot book the bed in the meantime, nor any nursing bed while people wait.
    walk_in, _ = await add_elder(client, serial="131")
    assert (await hold(client, bed_id, walk_in)).status_code == 409

    # The offer lapses: the settle job passes the bed to the next person; running it again changes nothing.
    await lapse(client, offer["id"])
    assert (await client.get(f"{API}/waitlist/{third['id']}", headers=client.as_(YINZHOU))).json()["status"] == "lapsed"
    settled = await client.post(f"{API}/waitlist/settle", headers=client.as_(YINZHOU))
    assert settled.json() == {"holds_lapsed": 1, "offers_made": 1}
    assert (await client.post(f"{API}/waitlist/settle", headers=client.as_(YINZHOU))).json() == {
        "holds_lapsed": 0,
        "offers_made": 0,
    }
    entry = (await client.get(f"{API}/waitlist/{second['id']}", headers=client.as_(YINZHOU))).json()
    assert entry["status"] == "offered"
    # Declining (releasing the offer) passes it on again; accepting admits.
    declined = await client.post(f"{API}/bed-holds/{entry['offer_id']}/release", headers=client.as_(YINZHOU))
    assert declined.status_code == 200
    entry = (await client.get(f"{API}/waitlist/{first['id']}", headers=client.as_(YINZHOU))).json()
    assert entry["status"] == "offered"
    admitted = await client.post(f"{API}/bed-holds/{entry['offer_id']}/confirm", headers=client.as_(YINZHOU))
    assert admitted.status_code == 201
    statuses = {
        e["id"]: e["status"]
        for e in (
            await client.get(f"{API}/waitlist", params={"bed_type": "nursing"}, headers=client.as_(YINZHOU))
        ).json()
    }
    assert statuses == {first["id"]: "admitted", second["id"]: "declined", third["id"]: "lapsed"}


async def test_waitlist_offers_a_free_bed_at_once_and_survives_assistance_down(client, assistance):
    await assistance.stop()
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "dementia")
    elder_id, _ = await add_elder(client)
    entry = await join(client, elder_id, bed_type="dementia", district_code="330212")
    assert entry["priority_basis"] == "fallback" and entry["is_tekun"] is False
    assert entry["status"] == "offered"
    assert (await bed(client, bed_id))["occupancy"] == "held"
    # A wish for another district is not offered this bed.
    other_id, _ = await add_elder(client, serial="141")
    far = await join(client, other_id, bed_type="dementia", district_code="330203")
    assert far["status"] == "waiting"
    withdrawn = await client.post(f"{API}/waitlist/{far['id']}/withdraw", headers=client.as_(CARER_P))
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
