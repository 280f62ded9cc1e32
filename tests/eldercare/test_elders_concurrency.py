"""Registering the same person from many devices at once leaves exactly one record."""

import asyncio
import datetime as dt

from tests.conftest import staff
from tests.eldercare.test_elders import READ, WRITE, elder_body, id_number
from tests.races import next_request_succeeds


async def test_concurrent_registrations_of_one_person_make_one_record(committed_client):
    client = committed_client
    headers = client.as_(staff("330212", READ, WRITE))
    body = elder_body(id_number=id_number("330212", dt.date(1946, 6, 6), "012"), carers=[])
    responses = await asyncio.gather(
        *(client.post("/api/eldercare/v1/elders", json=body, headers=headers) for _ in range(30))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    listed = await client.get("/api/eldercare/v1/elders", headers=headers)
    assert len(listed.json()["items"]) == 1
    another = elder_body(id_number=id_number("330212", dt.date(1946, 6, 7), "012"), carers=[])
    await next_request_succeeds(client.post("/api/eldercare/v1/elders", json=another, headers=headers))


async def test_concurrent_retries_with_one_key_run_the_work_once(committed_client):
    client = committed_client
    headers = client.as_(staff("330212", READ, WRITE)) | {"Idempotency-Key": "flaky-network-1"}
    body = elder_body(id_number=id_number("330212", dt.date(1947, 7, 7), "012"), carers=[])
    responses = await asyncio.gather(
        *(client.post("/api/eldercare/v1/elders", json=body, headers=headers) for _ in range(20))
    )
    created = [r for r in responses if r.status_code == 201]
    # Each retry either replays the first result or is told the first is still running; none makes another.
    assert created and all(r.status_code in (201, 409) for r in responses)
    # A 409 here is "still running" on the key, never the duplicate-person conflict a second run would hit.
    assert all(r.json()["resource"] == "idempotency-key:flaky-network-1" for r in responses if r.status_code == 409)
    assert len({r.json()["id"] for r in created}) == 1
    listed = await client.get("/api/eldercare/v1/elders", headers=client.as_(staff("330212", READ)))
    assert len(listed.json()["items"]) == 1
    another = elder_body(id_number=id_number("330212", dt.date(1947, 7, 8), "012"), carers=[])
    await next_request_succeeds(
        client.post("/api/eldercare/v1/elders", json=another, headers=headers | {"Idempotency-Key": "flaky-network-2"})
    )
