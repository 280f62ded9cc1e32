"""A resident's erasure request (through the gateway's register of personal-data requests) for a resource offer."""

from shared.identity import Principal
from tests.charity.factories import API
from tests.charity.test_needs import DONOR, offer_body, post

GATEWAY = Principal(subject="service:gateway-privacy", kind="service", scopes=frozenset({"charity.subject_data:erase"}))


async def erase(client, record_id: str):
    body = {"subject": DONOR.subject, "category": "resource_offers", "record_id": record_id}
    return await client.post(f"{API}/subject-data-erasures", json=body, headers=client.as_(GATEWAY))


async def test_a_record_id_no_offer_can_have_is_not_found_not_a_server_error(client):
    # The id is a string of the request's pattern: digits past what the id column holds reached the database
    # (asyncpg refuses them, SQLite overflows), and the erasure got a 500.
    offer = await post(client, "resource-offers", offer_body(), DONOR)
    for record_id in ("9" * 20, "2147483648", "0"):
        response = await erase(client, record_id)
        assert response.status_code == 404, response.text
    erased = await erase(client, str(offer["id"]))
    assert erased.status_code == 200, erased.text
    assert (await client.get(f"{API}/resource-offers", headers=client.as_(DONOR))).json()["items"] == []
