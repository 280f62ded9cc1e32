"""A resident's erasure request (through the gateway's register of personal-data requests) for a resource offer."""

from sqlalchemy import select

from services.charity.database import IDEMPOTENCY_KEYS
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


async def test_an_erased_offer_leaves_no_copy_in_the_replays_of_its_idempotency_key(client):
    # The offer's create route stores its answer (the offerer's name, the description) under the Idempotency-Key, for
    # replays: the erasure deleted the offer and kept that copy, and a replay of the key answered the erased offer.
    key = {"Idempotency-Key": "offer-to-erase"}
    headers = client.as_(DONOR) | key
    first = await client.post(f"{API}/resource-offers", json=offer_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert (await erase(client, str(first.json()["id"]))).status_code == 200
    async with client.app.state.database.sessionmaker() as session:
        bodies = (await session.execute(select(IDEMPOTENCY_KEYS.c.response_body))).scalars().all()
    assert not any(body and "宁波某某家纺" in body for body in bodies)
    # The key is free again: sending it once more offers anew (it answered the erased offer, which no longer exists).
    replay = await client.post(f"{API}/resource-offers", json=offer_body(), headers=headers)
    assert replay.status_code == 201, replay.text
    offers = (await client.get(f"{API}/resource-offers", headers=client.as_(DONOR))).json()["items"]
    assert [offer["id"] for offer in offers] == [replay.json()["id"]]
