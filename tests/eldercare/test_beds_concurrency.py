"""Many requests for the same bed, or for the same person, at the same moment: the database lets one through."""

from __future__ import annotations

import asyncio

from tests.eldercare.test_beds import API, YINZHOU, add_beds, add_institution, bed, hold
from tests.eldercare.test_meals_concurrency import many_elders, statements_sent
from tests.races import next_request_succeeds


async def test_many_people_holding_one_bed_get_it_once(committed_client):
    client = committed_client
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "nursing")
    elders = await many_elders(client, 25)
    responses = await asyncio.gather(*(hold(client, bed_id, e) for e in elders))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    assert all(r.json()["resource"] == f"beds/{bed_id}" for r in responses if r.status_code == 409)
    assert (await bed(client, bed_id))["occupancy"] == "held"
    [other_bed] = await add_beds(client, institution["id"], "nursing", prefix="2-20")
    loser = next(e for e, r in zip(elders, responses, strict=False) if r.status_code == 409)
    await next_request_succeeds(hold(client, other_bed, loser))


async def test_one_person_holding_many_beds_gets_one(committed_client):
    client = committed_client
    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], "general", 12)
    elder_id, other = await many_elders(client, 2)
    responses = await asyncio.gather(*(hold(client, b, elder_id) for b in beds))
    assert [r.status_code for r in responses].count(201) == 1, [r.text for r in responses]
    live = (
        await client.get(f"{API}/bed-holds", params={"elder_id": elder_id, "active": True}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert len(live) == 1
    lost = next(b for b, r in zip(beds, responses, strict=False) if r.status_code != 201)
    await next_request_succeeds(hold(client, lost, other))


async def test_direct_admissions_of_one_person_and_to_one_bed_race(committed_client):
    client = committed_client
    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], "dementia", 8)
    elders = await many_elders(client, 9)
    one_person = await asyncio.gather(
        *(
            client.post(f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": b, "elder_id": elders[0]})
            for b in beds
        )
    )
    assert [r.status_code for r in one_person].count(201) == 1
    free_bed = [b for b in beds if (await bed(client, b))["occupancy"] == "free"][0]  # noqa: RUF015 (an await)
    one_bed = await asyncio.gather(
        *(
            client.post(f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": free_bed, "elder_id": e})
            for e in elders[1:]
        )
    )
    assert [r.status_code for r in one_bed].count(201) == 1
    active = (await client.get(f"{API}/admissions", params={"active": True}, headers=client.as_(YINZHOU))).json()
    assert len(active["items"]) == 2 and len({a["bed_id"] for a in active["items"]}) == 2
    loser = next(e for e, r in zip(elders[1:], one_bed, strict=False) if r.status_code != 201)
    still_free = [b for b in beds if (await bed(client, b))["occupancy"] == "free"][0]  # noqa: RUF015 (an await)
    await next_request_succeeds(
        client.post(f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": still_free, "elder_id": loser})
    )


async def test_confirming_one_hold_twice_at_once_admits_once(committed_client):
    client = committed_client
    institution = await add_institution(client)
    bed_id, other_bed = await add_beds(client, institution["id"], "nursing", 2)
    elder_id, other = await many_elders(client, 2)
    held = (await hold(client, bed_id, elder_id)).json()
    responses = await asyncio.gather(
        *(client.post(f"{API}/bed-holds/{held['id']}/confirm", headers=client.as_(YINZHOU)) for _ in range(10))
    )
    assert [r.status_code for r in responses].count(201) == 1
    active = (await client.get(f"{API}/admissions", params={"active": True}, headers=client.as_(YINZHOU))).json()
    assert len(active["items"]) == 1
    other_hold = await next_request_succeeds(hold(client, other_bed, other))
    await next_request_succeeds(client.post(f"{API}/bed-holds/{other_hold['id']}/confirm", headers=client.as_(YINZHOU)))


async def test_a_hold_on_a_taken_bed_is_refused_on_one_read(committed_client):
    client = committed_client
    institution = await add_institution(client)
    [bed_id] = await add_beds(client, institution["id"], "nursing")
    first, second = await many_elders(client, 2)
    assert (await hold(client, bed_id, first)).status_code == 201
    with statements_sent(client) as sent:
        refused = await hold(client, bed_id, second)
    assert refused.status_code == 409 and refused.json()["resource"] == f"beds/{bed_id}", refused.text
    assert len(sent) == 1, sent  # the person, the bed and who holds it together; no transaction
