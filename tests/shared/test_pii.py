"""Personal data at rest: encrypted columns, blind indexes, and re-encryption under a new key."""

import base64
import json
import os
import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from shared.pii import Encrypted, Keyring, PiiKeyError, blind_index, reencrypt, use_keyring
from tests.conftest import service_database

ID_NUMBER = "330203194503150022"


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def ring(keys: dict[str, str], active: str) -> Keyring:
    return Keyring.from_environment({"PII_KEYS": json.dumps(keys), "PII_ACTIVE_KEY": active, "PII_INDEX_KEY": key()})


@pytest.fixture
async def people(backend, db_dir):
    """A throwaway table with two encrypted columns, in a test database, dropped afterwards."""
    database = await service_database("gateway", backend, db_dir)
    metadata = MetaData()
    table = Table(
        f"pii_test_{uuid.uuid4().hex[:8]}",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("id_number", Encrypted("people.id_number")),
        Column("phone", Encrypted("people.phone")),
        Column("id_number_index", String(64)),
    )
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield database, table
    finally:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        use_keyring(None)


async def test_values_are_stored_encrypted_and_read_back_in_the_clear(people):
    database, table = people
    use_keyring(ring({"k1": key()}, "k1"))
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(table).values(
                id_number=ID_NUMBER, phone="13805740101", id_number_index=blind_index("people.id_number", ID_NUMBER)
            )
        )
        stored = (await connection.execute(select(table.c.id_number.cast(String)))).scalar_one()
        assert stored.startswith("v1:k1:") and ID_NUMBER not in stored
        found = (
            await connection.execute(
                select(table.c.id_number, table.c.phone).where(
                    table.c.id_number_index == blind_index("people.id_number", ID_NUMBER)
                )
            )
        ).one()
    assert tuple(found) == (ID_NUMBER, "13805740101")


async def test_a_value_moved_to_another_column_does_not_decrypt(people):
    database, table = people
    use_keyring(ring({"k1": key()}, "k1"))
    async with database.engine.begin() as connection:
        await connection.execute(insert(table).values(id_number=ID_NUMBER, phone="13805740101"))
        stolen = (await connection.execute(select(table.c.id_number.cast(String)))).scalar_one()
        # Copy the ciphertext of the ID number into the phone column, bypassing encryption.
        await connection.execute(update(table).values(phone=None))
        await connection.exec_driver_sql(f"UPDATE {table.name} SET phone = '{stolen}'")
        with pytest.raises(PiiKeyError, match=r"people\.phone"):
            (await connection.execute(select(table.c.phone))).scalar_one()


def test_blind_indexes_depend_on_purpose_and_key():
    first = ring({"k1": key()}, "k1")
    assert first.blind_index("a", ID_NUMBER) == first.blind_index("a", ID_NUMBER)
    assert first.blind_index("a", ID_NUMBER) != first.blind_index("b", ID_NUMBER)
    assert first.blind_index("a", ID_NUMBER) != ring({"k1": key()}, "k1").blind_index("a", ID_NUMBER)


async def test_rotation_moves_every_row_to_the_active_key_and_can_run_twice(people):
    database, table = people
    old, new = key(), key()
    use_keyring(ring({"k1": old}, "k1"))
    async with database.engine.begin() as connection:
        for i in range(7):
            await connection.execute(insert(table).values(id_number=f"{ID_NUMBER[:-1]}{i}", phone=None))
    use_keyring(ring({"k1": old, "k2": new}, "k2"))
    from sqlalchemy.ext.asyncio import AsyncSession

    async with AsyncSession(database.engine) as session, session.begin():
        assert await reencrypt(session, table, batch=3) == 7
    async with AsyncSession(database.engine) as session, session.begin():
        assert await reencrypt(session, table, batch=3) == 0
    use_keyring(ring({"k2": new}, "k2"))  # the old key can now be dropped
    async with database.engine.begin() as connection:
        kids = {v.split(":")[1] for v in (await connection.execute(select(table.c.id_number.cast(String)))).scalars()}
        values = sorted((await connection.execute(select(table.c.id_number))).scalars())
    assert kids == {"k2"} and values == [f"{ID_NUMBER[:-1]}{i}" for i in range(7)]


def test_production_refuses_missing_or_dev_keys():
    with pytest.raises(PiiKeyError, match="PII_KEYS"):
        Keyring.from_environment({"ENV": "production"})
    with pytest.raises(PiiKeyError, match="dev"):
        Keyring.from_environment({"ENV": "production", "PII_KEYS": json.dumps({"dev": key()}), "PII_INDEX_KEY": key()})
    with pytest.raises(PiiKeyError, match="not one of"):
        Keyring.from_environment(
            {"PII_KEYS": json.dumps({"a": key(), "b": key()}), "PII_ACTIVE_KEY": "c", "PII_INDEX_KEY": key()}
        )
