"""A resident's erasure request (through the gateway's register of personal-data requests) for a care link request."""

import datetime as dt

from shared.identity import Principal
from tests.eldercare.test_care_links import FAMILY, LINKS, ask
from tests.eldercare.test_elders import id_number
from tests.eldercare.test_meals import API

GATEWAY = Principal(
    subject="service:gateway-privacy", kind="service", scopes=frozenset({"eldercare.subject_data:erase"})
)


async def erase(client, record_id: str):
    body = {"subject": FAMILY.subject, "category": "care_link_requests", "record_id": record_id}
    return await client.post(f"{API}/subject-data-erasures", json=body, headers=client.as_(GATEWAY))


async def test_a_record_id_no_request_can_have_is_not_found_not_a_server_error(client):
    # The id is a string of the request's pattern: digits past what the id column holds reached the database
    # (asyncpg refuses them, SQLite overflows), and the erasure got a 500.
    asked = await ask(client, id_number("330212", dt.date(1941, 1, 1), "077"))
    assert asked.status_code == 201, asked.text
    for record_id in ("9" * 20, "2147483648", "0"):
        response = await erase(client, record_id)
        assert response.status_code == 404, (record_id, response.text)
    erased = await erase(client, str(asked.json()["id"]))
    assert erased.status_code == 200, erased.text
    assert (await client.get(LINKS, headers=client.as_(FAMILY))).json()["items"] == []
