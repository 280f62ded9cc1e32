"""Personal data at rest: ID numbers and phones of older people, their emergency contacts and caregivers are
stored encrypted; people are found, and kept unique, by a keyed blind index of the ID number."""

from __future__ import annotations

import datetime as dt
import json
import os

from sqlalchemy import String, select

from services.eldercare.elders.models import Elder, elder_id_number_index
from services.eldercare.homecare.models import Caregiver, caregiver_id_number_index
from services.eldercare.pii import reencrypt_all
from shared.pii import Keyring, keyring, use_keyring
from tests.eldercare.test_elders import YINZHOU_STAFF, elder_body, id_number
from tests.eldercare.test_homecare import add_caregiver

API = "/api/eldercare/v1"
CONTACT_PHONE = "13912345678"


async def stored(client, *columns):
    """The stored text of the given columns, read raw (the cast skips the decrypting column type)."""
    async with client.app.state.database.sessionmaker() as session:
        return (await session.execute(select(*[c.cast(String).label(c.key) for c in columns]))).all()


async def test_elder_id_number_phone_and_contact_phones_are_stored_encrypted(client):
    number = id_number("330212", dt.date(1948, 8, 8), "022")
    body = elder_body(
        id_number=number,
        phone="13805749999",
        emergency_contacts=[{"name": "李明", "phone": CONTACT_PHONE, "relation": "儿子"}],
    )
    created = await client.post(f"{API}/elders", json=body, headers=client.as_(YINZHOU_STAFF))
    assert created.status_code == 201, created.text
    elder_id = created.json()["id"]

    [(raw_id, raw_phone, raw_contacts, index)] = await stored(
        client, Elder.id_number, Elder.phone, Elder.emergency_contacts, Elder.id_number_index
    )
    assert raw_id.startswith("v1:") and raw_phone.startswith("v1:")
    for secret in (number, number[6:14], "13805749999", CONTACT_PHONE):
        assert secret not in raw_id + raw_phone + raw_contacts + index
    [contact] = json.loads(raw_contacts)
    assert contact["name"] == "李明" and contact["phone"].startswith("v1:")  # only the contact's phone is encrypted
    assert index == elder_id_number_index(number)

    async with client.app.state.database.sessionmaker() as session:  # the model decrypts for the service
        elder = await session.get(Elder, elder_id)
        assert (elder.id_number, elder.phone) == (number, "13805749999")
        assert elder.emergency_contacts == [{"name": "李明", "phone": CONTACT_PHONE, "relation": "儿子"}]

    for response in (
        created,
        await client.get(f"{API}/elders/{elder_id}", headers=client.as_(YINZHOU_STAFF)),
        await client.get(f"{API}/elders", headers=client.as_(YINZHOU_STAFF)),
    ):
        assert number not in response.text and "13805749999" not in response.text
        assert CONTACT_PHONE not in response.text


async def test_the_same_person_is_found_by_the_blind_index_and_refused(client):
    body = elder_body(id_number=id_number("330212", dt.date(1949, 9, 9), "032"), carers=[])
    first = await client.post(f"{API}/elders", json=body, headers=client.as_(YINZHOU_STAFF))
    assert first.status_code == 201, first.text
    # Found by the index of the normalised number (compacted, upper-case check character).
    again = await client.post(
        f"{API}/elders", json=body | {"id_number": body["id_number"].lower()}, headers=client.as_(YINZHOU_STAFF)
    )
    assert again.status_code == 409 and again.json()["resource"] == f"elders/{first.json()['id']}"


async def test_caregiver_id_number_and_phone_are_stored_encrypted(client):
    caregiver = await add_caregiver(client)
    async with client.app.state.database.sessionmaker() as session:
        row = await session.get(Caregiver, caregiver["id"])
        number = row.id_number
    [(raw_id, raw_phone, index)] = await stored(client, Caregiver.id_number, Caregiver.phone, Caregiver.id_number_index)
    assert number not in raw_id and "13600000000" not in raw_phone and raw_id.startswith("v1:")
    assert index == caregiver_id_number_index(number)
    assert caregiver["id_number_masked"].endswith(number[-4:]) and number not in str(caregiver)


async def test_rotation_moves_every_value_to_the_new_key_contact_phones_included(client):
    number = id_number("330212", dt.date(1947, 4, 4), "042")
    body = elder_body(
        id_number=number,
        phone="13805749999",
        emergency_contacts=[
            {"name": "李明", "phone": CONTACT_PHONE, "relation": "儿子"},
            {"name": "王芳", "phone": "13987654321", "relation": "女儿"},
        ],
    )
    created = await client.post(f"{API}/elders", json=body, headers=client.as_(YINZHOU_STAFF))
    assert created.status_code == 201, created.text
    await add_caregiver(client)
    old = keyring()
    new = Keyring(keys={**old.keys, "k2": os.urandom(32)}, active="k2", index_key=old.index_key)
    use_keyring(new)
    try:
        async with client.app.state.database.sessionmaker() as session, session.begin():
            counts = await reencrypt_all(session)
        assert counts == {"elders": 1, "caregivers": 1, "care_link_requests": 0, "elders.emergency_contacts": 1}
        async with client.app.state.database.sessionmaker() as session, session.begin():
            assert set((await reencrypt_all(session)).values()) == {0}  # a second run finds nothing to do
        use_keyring(Keyring(keys={"k2": new.keys["k2"]}, active="k2", index_key=old.index_key))  # old key gone
        [(raw_id, raw_phone, raw_contacts)] = await stored(
            client, Elder.id_number, Elder.phone, Elder.emergency_contacts
        )
        assert all(v.startswith("v1:k2:") for v in (raw_id, raw_phone, *[c["phone"] for c in json.loads(raw_contacts)]))
        async with client.app.state.database.sessionmaker() as session:
            elder = await session.get(Elder, created.json()["id"])
            assert (elder.id_number, elder.phone) == (number, "13805749999")
            assert [c["phone"] for c in elder.emergency_contacts] == [CONTACT_PHONE, "13987654321"]
            assert (
                await session.scalar(select(Elder.id).where(Elder.id_number_index == elder_id_number_index(number)))
                == elder.id
            )
    finally:
        use_keyring(None)
