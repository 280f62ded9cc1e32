"""One person in many households at once: the unique key leaves exactly one."""

import asyncio

from tests.assistance.helpers import household, member
from tests.assistance.test_households import READ, URL, WRITE
from tests.conftest import staff
from tests.races import next_request_succeeds


async def test_concurrent_households_claiming_one_person_leave_one(committed_client):
    client = committed_client
    headers = client.as_(staff("330212", READ, WRITE))
    contested = member("spouse", age=33)
    responses = await asyncio.gather(
        *(client.post(URL, json=household(member(age=30 + i % 20), contested), headers=headers) for i in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    listed = await client.get(URL, params={"limit": 100}, headers=headers)
    # Nothing half-written: the losers left neither a household nor their applicant behind.
    assert len(listed.json()["items"]) == 1
    await next_request_succeeds(
        client.post(URL, json=household(member(age=52), member("spouse", age=50)), headers=headers)
    )
