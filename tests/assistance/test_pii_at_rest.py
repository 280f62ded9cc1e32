"""ID numbers at rest: stored encrypted with a blind index in members, enrolments and signals, and the
migration that moved existing rows there (and back on downgrade)."""

import asyncio
import base64
import datetime as dt
import os

import pytest
from sqlalchemy import text

from services.assistance import seed
from services.assistance.database import Base
from services.assistance.pii import id_number_index, reencrypt_all
from services.assistance.programmes import service as programmes
from shared import clock, migrations
from shared.db import make_engine
from tests.assistance.helpers import household, member
from shared.identity import Principal
from shared.pii import Keyring, keyring, use_keyring
from tests.conftest import staff

API = "/api/assistance/v1"
READ, WRITE = "assistance.households:read", "assistance.households:write"
PARTNER = Principal(subject="partner:yibao", kind="partner", scopes=frozenset({"assistance.signals:write"}))
BEFORE = "061ea58cc589"  # the last revision with plain ID numbers


async def rows_of(session, table):
    return [tuple(map(str, row)) for row in (await session.execute(text(f"SELECT * FROM {table}"))).all()]


async def test_no_table_holds_an_id_number_in_the_clear(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()
    body = household(member(), member("spouse", age=38))
    created = await client.post(f"{API}/households", json=body, headers=client.as_(staff("330212", READ, WRITE)) | {
        "Idempotency-Key": "household-1"})
    assert created.status_code == 201, created.text
    number = body["members"][0]["id_number"]
    signal = await client.post(f"{API}/signals", headers=client.as_(PARTNER), json={
        "signal_id": "YB-1", "kind": "medical_bill", "id_number": number, "occurred_on": "2024-06-01",
        "amount_fen": 8_000_000})
    assert signal.status_code == 201 and signal.json()["household_found"], signal.text
    lookup = await client.post(f"{API}/status-lookups", json={"id_number": number},
                               headers=client.as_(staff("330212", "assistance.status:read")))
    assert lookup.status_code == 200 and number not in lookup.text
    async with client.app.state.database.sessionmaker() as session:
        await programmes.enrol(session, id_number=number, household_id=created.json()["id"], programme="dibao",
                               since_on=clock.today(), monthly_fen=1, basis="test")
        await session.flush()
        # Every table of the service, the idempotency keys and the audit of lookups included.
        assert {"idempotency_keys", "pii_reads", "leads"} <= {t.name for t in Base.metadata.sorted_tables}
        for table in Base.metadata.sorted_tables:
            rows = await rows_of(session, table.name)
            assert not any(number in value for row in rows for value in row), table.name
        for table in ("members", "enrolments", "signals"):
            stored = (await session.execute(text(f"SELECT id_number_enc, id_number_index FROM {table} "
                                                 f"WHERE id_number_index = :i"), {"i": id_number_index(number)})).one()
            assert stored[0].startswith("v1:") and stored[1] == id_number_index(number)
        await session.rollback()


async def test_a_person_is_refused_a_second_household_through_the_blind_index(client):
    headers = client.as_(staff("330212", READ, WRITE))
    person = member("spouse", age=41)
    assert (await client.post(f"{API}/households", json=household(member(), person), headers=headers)).status_code == 201
    again = await client.post(f"{API}/households", json=household(member(), person), headers=headers)
    assert again.status_code == 409 and person["id_number"] not in again.text
    assert person["id_number"][:6] + "********" + person["id_number"][-4:] in again.json()["detail"]


# --- the migration -------------------------------------------------------------------------------------------

@pytest.fixture
def scratch(scratch_database) -> str:
    """An empty database of this test's own (the migration is run on it from the start)."""
    return scratch_database("assistance_pii")


async def _execute(url: str, *statements: tuple[str, dict]) -> list:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            results = [(await connection.execute(text(sql), params)) for sql, params in statements]
            return [r.all() if r.returns_rows else None for r in results]
    finally:
        await engine.dispose()


def test_the_migration_encrypts_existing_rows_and_the_downgrade_restores_them(scratch):
    migrations.upgrade("assistance", scratch, BEFORE)
    now, today = dt.datetime.now(dt.timezone.utc), dt.date(2024, 1, 1)
    numbers = ["330203194503150022", "330212195207080032"]
    asyncio.run(_execute(scratch, (
        "INSERT INTO households (id, area_code, address, created_by, created_at) "
        "VALUES (1, '330212001001', 'x', 'test', :now)", {"now": now}), *[(
            "INSERT INTO members (id, household_id, id_number, name, birth_on, sex, relationship, residence, "
            "labour_capacity, schooling, full_time_student, lives_together, legal_duty_of_support, parents, "
            "in_institution, created_at) VALUES (:id, 1, :n, '某', :b, 'female', :r, 'registered', 'none', 'none', "
            "false, true, false, 'present', false, :now)",
            {"id": i + 1, "n": n, "b": dt.date(1945, 3, 15), "r": "applicant" if i == 0 else "spouse", "now": now})
            for i, n in enumerate(numbers)],
        ("INSERT INTO enrolments (id_number, household_id, programme, since_on, monthly_fen, basis, created_at) "
         "VALUES (:n, 1, 'dibao', :d, 30000, 'test', :now)", {"n": numbers[0], "d": today, "now": now}),
        ("INSERT INTO signals (partner, signal_id, kind, id_number, occurred_on, detail, household_id, received_at) "
         "VALUES ('partner:yibao', 'S1', 'medical_bill', :n, :d, '', 1, :now)",
         {"n": numbers[1], "d": today, "now": now}),
        ("INSERT INTO incomes (household_id, member_id, kind, item, amount_fen, period_from, months, monthly_fen, "
         "exempt, source_kind, source_name, source_on, recorded_by, recorded_at) VALUES (1, 1, 'pension', "
         "'pension', 80000, :d, 1, 80000, false, 'department', 'x', :d, 'test', :now)", {"d": today, "now": now})))

    migrations.upgrade("assistance", scratch)
    members, enrolments, signals, incomes = asyncio.run(_execute(
        scratch, ("SELECT id_number_enc, id_number_index FROM members ORDER BY id", {}),
        ("SELECT id_number_enc, id_number_index FROM enrolments", {}),
        ("SELECT id_number_enc, id_number_index FROM signals", {}), ("SELECT count(*) FROM incomes", {})))
    # The table rebuilds on SQLite left the rows that reference members in place.
    assert incomes == [(1,)]
    for rows, expected in ((members, numbers), (enrolments, numbers[:1]), (signals, numbers[1:])):
        assert [r[1] for r in rows] == [id_number_index(n) for n in expected]
        assert all(r[0].startswith("v1:") and not any(n in r[0] for n in numbers) for r in rows)

    migrations.downgrade("assistance", scratch, BEFORE)
    members, enrolments, signals = asyncio.run(_execute(
        scratch, ("SELECT id_number FROM members ORDER BY id", {}), ("SELECT id_number FROM enrolments", {}),
        ("SELECT id_number FROM signals", {})))
    assert ([r[0] for r in members], [r[0] for r in enrolments], [r[0] for r in signals]) == (
        numbers, numbers[:1], numbers[1:])


async def test_key_rotation_moves_every_id_number_to_the_new_key(client):
    body = household(member(), member("spouse", age=38))
    assert (await client.post(f"{API}/households", json=body,
                              headers=client.as_(staff("330212", READ, WRITE)))).status_code == 201
    number = body["members"][0]["id_number"]
    old = keyring()
    async with client.app.state.database.sessionmaker() as session:
        await programmes.enrol(session, id_number=number, household_id=None, programme="tekun",
                               since_on=clock.today(), monthly_fen=1, basis="test")
        await session.commit()
    new_key = base64.b64encode(os.urandom(32)).decode()
    # The old key stays readable during the move; the blind index key does not change.
    use_keyring(Keyring(keys={**old.keys, "k2": base64.b64decode(new_key)}, active="k2", index_key=old.index_key))
    try:
        async with client.app.state.database.sessionmaker() as session:
            assert await reencrypt_all(session, batch=1) == {"members": 2, "enrolments": 1, "signals": 0}
            assert await reencrypt_all(session) == {"members": 0, "enrolments": 0, "signals": 0}
            stored = [row[0] for table in ("members", "enrolments") for row in (await session.execute(
                text(f"SELECT id_number_enc FROM {table}"))).all()]
            await session.commit()
        assert stored and all(s.startswith("v1:k2:") for s in stored)
        use_keyring(Keyring(keys={"k2": base64.b64decode(new_key)}, active="k2", index_key=old.index_key))
        lookup = await client.post(f"{API}/status-lookups", json={"id_number": number},
                                   headers=client.as_(staff("330212", "assistance.status:read")))
        assert lookup.json()["programmes"] == [{"code": "tekun", "since": clock.today().isoformat()}]
        listed = await client.get(f"{API}/households", headers=client.as_(staff("330212", READ)))
        assert listed.status_code == 200  # members decrypt under the new key alone
    finally:
        use_keyring(None)
