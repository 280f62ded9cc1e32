"""The migration that encrypts personal data, run over a database holding people: every value is encrypted and
decrypts back, no row that references an elder or a caregiver is lost, and the downgrade restores the clear
columns. On a scratch database of this test's own (SQLite file, or a PostgreSQL database it creates)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from shared import migrations
from shared.db import make_engine
from shared.pii import blind_index, keyring

BEFORE, ENCRYPTED = "9557c3eb16b2", "47086fa941ff"
ELDER, CAREGIVER = "330203194503150022", "330212198305060020"
CONTACTS = [{"name": "儿子", "phone": "13900000001", "relation": "son"}]
STAMP = "'2026-01-01 00:00:00'"

ROWS = [
    "INSERT INTO elders (id, id_number, name, sex, birth_on, phone, address, area_code, lives_alone, "
    "emergency_contacts, registered_by, created_at) VALUES (1, :elder, '王阿娣', 'female', '1945-03-15', "
    f"'13805740101', '中山西路12号', '330203001', true, :contacts, 'seed', {STAMP})",
    "INSERT INTO elder_carers (elder_id, subject, relation) VALUES (1, 'resident:1', 'child')",
    "INSERT INTO subsidy_accounts (id, elder_id, tier, level, balance_fen, tier_basis, opened_by, opened_at) "
    f"VALUES (1, 1, 'dibao', 2, 100, 'live', 'seed', {STAMP})",
    "INSERT INTO providers (id, name, credit_code, area_code, created_by, created_at) "
    f"VALUES (1, '颐乐', '91330212MA2H00001X', '330212001', 'seed', {STAMP})",
    "INSERT INTO caregivers (id, provider_id, name, id_number, phone, certificate_no, certificate_level, "
    f"certificate_expires_on, is_active, created_at) VALUES (1, 1, '胡美华', :caregiver, '13600574001', 'NB-1', "
    f"'senior', '2030-01-01', true, {STAMP})",
]


@pytest.fixture
def scratch(scratch_database) -> str:
    return scratch_database("eldercare_pii")


async def _run(url: str, statements: list[str], **params) -> list:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            results = []
            for statement in statements:
                result = await connection.execute(
                    text(statement), {k: v for k, v in params.items() if f":{k}" in statement}
                )
                results.append(result.all() if result.returns_rows else None)
            return results
    finally:
        await engine.dispose()


def _contacts(value):
    return json.loads(value) if isinstance(value, str) else value


def test_upgrade_encrypts_everything_keeps_every_row_and_downgrade_restores(scratch):
    # Synchronous on purpose: alembic runs its own event loop (as the deploy migration test does).
    migrations.upgrade("eldercare", scratch, BEFORE)
    asyncio.run(_run(scratch, ROWS, elder=ELDER, caregiver=CAREGIVER, contacts=json.dumps(CONTACTS)))
    counts = ["SELECT count(*) FROM elder_carers", "SELECT count(*) FROM subsidy_accounts"]

    migrations.upgrade("eldercare", scratch, ENCRYPTED)
    elders, caregivers, *kept = asyncio.run(
        _run(
            scratch,
            [
                "SELECT id_number, phone, id_number_index, emergency_contacts FROM elders",
                "SELECT id_number, phone, id_number_index FROM caregivers",
                *counts,
            ],
        )
    )
    ring = keyring()
    [(id_number, phone, index, contacts)] = elders
    assert ring.decrypt("elders.id_number", id_number) == ELDER and ELDER not in id_number
    assert ring.decrypt("elders.phone", phone) == "13805740101"
    assert index == blind_index("elders.id_number", ELDER)
    [contact] = _contacts(contacts)
    assert (
        contact["name"] == "儿子" and ring.decrypt("elders.emergency_contacts.phone", contact["phone"]) == "13900000001"
    )
    [(id_number, phone, index)] = caregivers
    assert ring.decrypt("caregivers.id_number", id_number) == CAREGIVER and CAREGIVER not in id_number
    assert ring.decrypt("caregivers.phone", phone) == "13600574001"
    assert index == blind_index("caregivers.id_number", CAREGIVER)
    assert kept == [[(1,)], [(1,)]]  # SQLite's table rebuild neither cascaded nor was refused

    migrations.downgrade("eldercare", scratch, BEFORE)
    elders, caregivers, *kept = asyncio.run(
        _run(
            scratch,
            [
                "SELECT id_number, phone, emergency_contacts FROM elders",
                "SELECT id_number, phone FROM caregivers",
                *counts,
            ],
        )
    )
    assert [(e[0], e[1], _contacts(e[2])) for e in elders] == [(ELDER, "13805740101", CONTACTS)]
    assert caregivers == [(CAREGIVER, "13600574001")] and kept == [[(1,)], [(1,)]]
