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


async def test_a_race_lost_on_the_unique_key_frees_the_idempotency_key_for_the_retry(committed_client):
    # A loser of the race may be refused by the database's unique key rather than by the service's own check (on
    # PostgreSQL, both households are inserted at once). Its key was then kept as "in flight" though nothing was
    # written, and its retry, the one thing a mobile client does with a lost answer, was told "still being
    # processed; retry shortly" for a minute instead of getting the refusal.
    client = committed_client
    headers = client.as_(staff("330212", READ, WRITE))
    contested = member("spouse", age=33)
    bodies = [household(member(age=30 + i % 20), contested) for i in range(20)]
    keyed = [headers | {"Idempotency-Key": f"race-{i}"} for i in range(20)]
    responses = await asyncio.gather(*(client.post(URL, json=b, headers=h) for b, h in zip(bodies, keyed, strict=True)))
    assert sorted(r.status_code for r in responses).count(201) == 1
    for body, header, first in zip(bodies, keyed, responses, strict=True):
        retry = await client.post(URL, json=body, headers=header)
        if first.status_code == 201:
            assert retry.status_code == 201 and retry.json() == first.json(), retry.text
        else:
            assert retry.status_code == 409, retry.text
            assert "still being processed" not in retry.json()["detail"], retry.text
            assert not retry.json().get("resource", "").startswith("idempotency-key:"), retry.text
