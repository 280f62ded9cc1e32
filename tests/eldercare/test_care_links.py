"""Verified care relations: a resident asks, staff of the person's area decide; the resident learns nothing
about who is registered, and sees a person only once a link is approved."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from services.eldercare.elders.models import ElderCarer
from tests.conftest import resident, staff
from tests.eldercare.test_elders import id_number
from tests.eldercare.test_meals import API, ELDERS_READ, ELDERS_WRITE, add_elder

REQUEST, READ, DECIDE = "eldercare.care_links:request", "eldercare.care_links:read", "eldercare.care_links:decide"
YINZHOU = staff("330212", ELDERS_READ, ELDERS_WRITE, READ, DECIDE, subject="staff:yinzhou")
HAISHU = staff("330203", ELDERS_READ, ELDERS_WRITE, READ, DECIDE, subject="staff:haishu")
FAMILY = resident("resident:13911112222", ELDERS_READ, REQUEST, READ)
STRANGER = resident("resident:13933334444", ELDERS_READ, REQUEST, READ)
LINKS = f"{API}/care-link-requests"


async def ask(client, number: str, who=FAMILY, name="测试老人", relation="child"):
    return await client.post(
        LINKS, json={"id_number": number, "name": name, "relation": relation}, headers=client.as_(who)
    )


async def visible_elders(client, who) -> list[int]:
    return [e["id"] for e in (await client.get(f"{API}/elders", headers=client.as_(who))).json()["items"]]


def shape(response) -> dict:
    """A receipt without what differs between any two requests (ids, times, the masked number)."""
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("id", "created_at", "id_number_masked")}


async def test_the_answer_does_not_say_whether_the_person_is_registered(client):
    _, registered = await add_elder(client, carers=())
    unknown = id_number("330212", dt.date(1941, 1, 1), "077")
    known_answer, unknown_answer = await ask(client, registered), await ask(client, unknown)
    assert known_answer.status_code == unknown_answer.status_code == 201
    assert (
        shape(known_answer)
        == shape(unknown_answer)
        == {"status": "pending", "relation": "child", "stated_name": "测试老人", "decided_at": None, "elder_id": None}
    )
    assert registered not in known_answer.text
    mine = (await client.get(LINKS, headers=client.as_(FAMILY))).json()["items"]
    assert len(mine) == 2 and {tuple(sorted(r)) for r in mine} == {tuple(sorted(known_answer.json()))}
    assert await visible_elders(client, FAMILY) == []
    # Asking twice while pending is about the caller's own request, refused alike for both numbers.
    assert (await ask(client, registered)).status_code == (await ask(client, unknown)).status_code == 409
    # Invalid numbers are refused for their form only.
    assert (await ask(client, registered[:-1] + ("0" if registered[-1] != "0" else "1"))).status_code == 422


async def test_staff_of_the_area_approve_and_the_resident_then_sees_the_person(client):
    elder_id, number = await add_elder(client, carers=())
    request = (await ask(client, number, name="测试老人")).json()
    other = await ask(client, number, who=STRANGER, name="别人")
    assert other.status_code == 201

    # Staff see the requests about people of their area, with the registered name to compare.
    listed = (await client.get(LINKS, params={"status": "pending"}, headers=client.as_(YINZHOU))).json()["items"]
    assert {(r["requester"], r["elder_id"], r["name_matches"]) for r in listed} == {
        (FAMILY.subject, elder_id, True),
        (STRANGER.subject, elder_id, False),
    }
    assert (await client.get(LINKS, headers=client.as_(HAISHU))).json()["items"] == []
    assert (await client.post(f"{LINKS}/{request['id']}/approval", headers=client.as_(HAISHU))).status_code == 404
    assert (await client.post(f"{LINKS}/{request['id']}/approval", headers=client.as_(FAMILY))).status_code == 403

    approved = await client.post(
        f"{LINKS}/{request['id']}/approval", json={"note": "户口簿核实"}, headers=client.as_(YINZHOU)
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "staff:yinzhou"
    assert await visible_elders(client, FAMILY) == [elder_id]
    [mine] = (await client.get(LINKS, headers=client.as_(FAMILY))).json()["items"]
    assert mine["status"] == "approved" and mine["elder_id"] == elder_id and "requester" not in mine

    again = await client.post(f"{LINKS}/{request['id']}/rejection", headers=client.as_(YINZHOU))
    assert again.status_code == 409 and "already approved" in again.json()["detail"]

    rejected = await client.post(
        f"{LINKS}/{other.json()['id']}/rejection", json={"note": "姓名不符"}, headers=client.as_(YINZHOU)
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert await visible_elders(client, STRANGER) == []

    # Staff end the link: the resident no longer sees the person.
    ended = await client.delete(f"{API}/elders/{elder_id}/carers/{FAMILY.subject}", headers=client.as_(YINZHOU))
    assert ended.status_code == 204
    assert await visible_elders(client, FAMILY) == []
    assert (
        await client.delete(f"{API}/elders/{elder_id}/carers/{FAMILY.subject}", headers=client.as_(YINZHOU))
    ).status_code == 404
    assert (
        await client.delete(f"{API}/elders/{elder_id}/carers/{STRANGER.subject}", headers=client.as_(HAISHU))
    ).status_code == 404


async def test_a_request_made_before_registration_finds_the_person_when_registered(client):
    number = id_number("330212", dt.date(1942, 2, 2), "088")
    request = (await ask(client, number)).json()
    assert (await client.get(LINKS, headers=client.as_(YINZHOU))).json()["items"] == []
    response = await client.post(
        f"{API}/elders",
        headers=client.as_(YINZHOU),
        json={"id_number": number, "name": "测试老人", "address": "鄞州区百丈街道1号", "area_code": "330212001"},
    )
    assert response.status_code == 201, response.text
    [seen] = (await client.get(LINKS, headers=client.as_(YINZHOU))).json()["items"]
    assert seen["id"] == request["id"] and seen["elder_id"] == response.json()["id"]


async def test_only_residents_ask(client):
    _, number = await add_elder(client, carers=())
    assert (await ask(client, number, who=staff("330212", REQUEST))).status_code == 403
    assert (await ask(client, number, who=resident("resident:1", READ))).status_code == 403


async def test_concurrent_approvals_make_one_link(committed_client):
    client = committed_client
    elder_id, number = await add_elder(client, carers=())
    request = (await ask(client, number)).json()
    responses = await asyncio.gather(
        *(client.post(f"{LINKS}/{request['id']}/approval", headers=client.as_(YINZHOU)) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1 and set(statuses) == {200, 409}, statuses
    async with client.app.state.database.sessionmaker() as session:
        links = await session.scalar(
            select(func.count()).select_from(ElderCarer).where(ElderCarer.elder_id == elder_id)
        )
    assert links == 1


async def test_concurrent_requests_of_one_resident_for_one_person_leave_one_pending(committed_client):
    client = committed_client
    _, number = await add_elder(client, carers=())
    responses = await asyncio.gather(*(ask(client, number) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    assert len((await client.get(LINKS, headers=client.as_(FAMILY))).json()["items"]) == 1


async def test_a_resident_has_a_bounded_number_of_requests_waiting(client):
    client.app.state.settings.resident_pending_care_links = 2  # this test's own app
    numbers = [id_number("330212", dt.date(1943, 3, n), "066") for n in (1, 2, 3)]
    assert [(await ask(client, n)).status_code for n in numbers[:2]] == [201, 201]
    refused = await ask(client, numbers[2])
    assert refused.status_code == 409 and refused.json()["resource"] == "quotas/pending_care_links"
    assert (await ask(client, numbers[2], who=STRANGER)).status_code == 201  # another resident's own quota


async def test_only_staff_whose_area_covers_the_person_approve_and_never_the_requester(client):
    elder_id, number = await add_elder(client, carers=())  # an elder of 百丈街道 (330212001)
    request = (await ask(client, number)).json()
    approval = f"{LINKS}/{request['id']}/approval"
    # A resident whose token carries the staff's scope still cannot approve their own request.
    own = await client.post(approval, headers=client.as_(resident(FAMILY.subject, ELDERS_READ, READ, DECIDE)))
    assert own.status_code == 403 and own.headers["content-type"] == "application/problem+json"
    # Staff of another street of the same district do not see the request at all.
    other_street = staff("330212002", ELDERS_READ, READ, DECIDE, subject="staff:other-street")
    assert (await client.post(approval, headers=client.as_(other_street))).status_code == 404
    [pending] = (await client.get(LINKS, headers=client.as_(YINZHOU))).json()["items"]
    assert pending["status"] == "pending" and await visible_elders(client, FAMILY) == []

    # City staff cover every district: their approval stands.
    city = staff("330200", ELDERS_READ, READ, DECIDE, subject="staff:city")
    approved = await client.post(approval, headers=client.as_(city))
    assert approved.status_code == 200 and approved.json()["decided_by"] == "staff:city"
    assert await visible_elders(client, FAMILY) == [elder_id]
