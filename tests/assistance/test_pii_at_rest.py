"""ID numbers at rest: stored encrypted with a blind index in members, enrolments and signals, and the
migration that moved existing rows there (and back on downgrade)."""

import asyncio
import base64
import datetime as dt
import os

import pytest
from sqlalchemy import text

from services.assistance import seed
from services.assistance.database import Base, id_number_index
from services.assistance.discovery import batch
from services.assistance.eligibility import service as eligibility
from services.assistance.pii import reencrypt_all
from services.assistance.programmes import service as programmes
from shared import clock, migrations
from shared.db import make_engine
from shared.identity import Principal
from shared.pii import Keyring, PiiKeyError, keyring, use_keyring
from tests.assistance.helpers import household, member
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
    created = await client.post(
        f"{API}/households",
        json=body,
        headers=client.as_(staff("330212", READ, WRITE)) | {"Idempotency-Key": "household-1"},
    )
    assert created.status_code == 201, created.text
    number = body["members"][0]["id_number"]
    signal = await client.post(
        f"{API}/signals",
        headers=client.as_(PARTNER),
        json={
            "signal_id": "YB-1",
            "kind": "medical_bill",
            "id_number": number,
            "occurred_on": "2024-06-01",
            "amount_fen": 8_000_000,
        },
    )
    assert signal.status_code == 201 and signal.json()["household_found"], signal.text
    lookup = await client.post(
        f"{API}/status-lookups",
        json={"id_number": number},
        headers=client.as_(staff("330212", "assistance.status:read")),
    )
    assert lookup.status_code == 200 and number not in lookup.text
    async with client.app.state.database.sessionmaker() as session:
        await programmes.enrol(
            session,
            id_number=number,
            household_id=created.json()["id"],
            programme="dibao",
            since_on=clock.today(),
            monthly_fen=1,
            basis="test",
        )
        await session.flush()
        # Every table of the service, the idempotency keys and the audit of lookups included.
        assert {"idempotency_keys", "pii_reads", "leads"} <= {t.name for t in Base.metadata.sorted_tables}
        for table in Base.metadata.sorted_tables:
            rows = await rows_of(session, table.name)
            assert not any(number in value for row in rows for value in row), table.name
        for table in ("members", "enrolments", "signals"):
            stored = (
                await session.execute(
                    text(f"SELECT id_number_enc, id_number_index FROM {table} WHERE id_number_index = :i"),
                    {"i": id_number_index(number)},
                )
            ).one()
            assert stored[0].startswith("v1:") and stored[1] == id_number_index(number)
        await session.rollback()


async def test_a_person_is_refused_a_second_household_through_the_blind_index(client):
    headers = client.as_(staff("330212", READ, WRITE))
    person = member("spouse", age=41)
    assert (
        await client.post(f"{API}/households", json=household(member(), person), headers=headers)
    ).status_code == 201
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
    now, today = dt.datetime.now(dt.UTC), dt.date(2024, 1, 1)
    numbers = ["330203194503150022", "330212195207080032"]
    asyncio.run(
        _execute(
            scratch,
            (
                "INSERT INTO households (id, area_code, address, created_by, created_at) "
                "VALUES (1, '330212001005', 'x', 'test', :now)",
                {"now": now},
            ),
            *[
                (
                    "INSERT INTO members (id, household_id, id_number, name, birth_on, sex, relationship, residence, "
                    "labour_capacity, schooling, full_time_student, lives_together, legal_duty_of_support, parents, "
                    "in_institution, created_at) VALUES (:id, 1, :n, '某', :b, 'female', :r, 'registered', 'none', 'none', "
                    "false, true, false, 'present', false, :now)",
                    {
                        "id": i + 1,
                        "n": n,
                        "b": dt.date(1945, 3, 15),
                        "r": "applicant" if i == 0 else "spouse",
                        "now": now,
                    },
                )
                for i, n in enumerate(numbers)
            ],
            (
                "INSERT INTO enrolments (id_number, household_id, programme, since_on, monthly_fen, basis, created_at) "
                "VALUES (:n, 1, 'dibao', :d, 30000, 'test', :now)",
                {"n": numbers[0], "d": today, "now": now},
            ),
            (
                "INSERT INTO signals (partner, signal_id, kind, id_number, occurred_on, detail, household_id, received_at) "
                "VALUES ('partner:yibao', 'S1', 'medical_bill', :n, :d, '', 1, :now)",
                {"n": numbers[1], "d": today, "now": now},
            ),
            (
                "INSERT INTO incomes (household_id, member_id, kind, item, amount_fen, period_from, months, monthly_fen, "
                "exempt, source_kind, source_name, source_on, recorded_by, recorded_at) VALUES (1, 1, 'pension', "
                "'pension', 240000, :d, 3, 80000, false, 'department', 'x', :d, 'test', :now)",
                {"d": today, "now": now},
            ),
        )
    )

    migrations.upgrade("assistance", scratch)
    members, enrolments, signals, incomes = asyncio.run(
        _execute(
            scratch,
            ("SELECT id_number_enc, id_number_index FROM members ORDER BY id", {}),
            ("SELECT id_number_enc, id_number_index FROM enrolments", {}),
            ("SELECT id_number_enc, id_number_index FROM signals", {}),
            ("SELECT amount_fen_enc, monthly_fen_enc FROM incomes", {}),
        )
    )
    # The table rebuilds on SQLite left the rows that reference members in place, and the income's amounts are
    # encrypted under their own purposes.
    [(amount, monthly)] = incomes
    assert "80000" not in amount + monthly
    assert (keyring().decrypt("incomes.amount_fen", amount), keyring().decrypt("incomes.monthly_fen", monthly)) == (
        "240000",
        "80000",
    )
    for rows, expected in ((members, numbers), (enrolments, numbers[:1]), (signals, numbers[1:])):
        assert [r[1] for r in rows] == [id_number_index(n) for n in expected]
        assert all(r[0].startswith("v1:") and not any(n in r[0] for n in numbers) for r in rows)

    migrations.downgrade("assistance", scratch, BEFORE)
    members, enrolments, signals, incomes = asyncio.run(
        _execute(
            scratch,
            ("SELECT id_number FROM members ORDER BY id", {}),
            ("SELECT id_number FROM enrolments", {}),
            ("SELECT id_number FROM signals", {}),
            ("SELECT amount_fen, monthly_fen FROM incomes", {}),
        )
    )
    assert ([r[0] for r in members], [r[0] for r in enrolments], [r[0] for r in signals]) == (
        numbers,
        numbers[:1],
        numbers[1:],
    )
    assert [tuple(r) for r in incomes] == [(240000, 80000)]


async def test_key_rotation_moves_every_id_number_to_the_new_key(client):
    body = household(member(), member("spouse", age=38))
    assert (
        await client.post(f"{API}/households", json=body, headers=client.as_(staff("330212", READ, WRITE)))
    ).status_code == 201
    number = body["members"][0]["id_number"]
    old = keyring()
    async with client.app.state.database.sessionmaker() as session:
        await programmes.enrol(
            session,
            id_number=number,
            household_id=None,
            programme="tekun",
            since_on=clock.today(),
            monthly_fen=1,
            basis="test",
        )
        await session.commit()
    new_key = base64.b64encode(os.urandom(32)).decode()
    # The old key stays readable during the move; the blind index key does not change.
    use_keyring(Keyring(keys={**old.keys, "k2": base64.b64decode(new_key)}, active="k2", index_key=old.index_key))
    try:
        async with client.app.state.database.sessionmaker() as session:
            assert await reencrypt_all(session, batch=1) == {"members": 2, "enrolments": 1, "signals": 0, "incomes": 0}
            assert await reencrypt_all(session) == {"members": 0, "enrolments": 0, "signals": 0, "incomes": 0}
            stored = [
                row[0]
                for table in ("members", "enrolments")
                for row in (await session.execute(text(f"SELECT id_number_enc FROM {table}"))).all()
            ]
            await session.commit()
        assert stored and all(s.startswith("v1:k2:") for s in stored)
        use_keyring(Keyring(keys={"k2": base64.b64decode(new_key)}, active="k2", index_key=old.index_key))
        lookup = await client.post(
            f"{API}/status-lookups",
            json={"id_number": number},
            headers=client.as_(staff("330212", "assistance.status:read")),
        )
        assert lookup.json()["programmes"] == [{"code": "tekun", "since": clock.today().isoformat()}]
        listed = await client.get(f"{API}/households", headers=client.as_(staff("330212", READ)))
        assert listed.status_code == 200  # members decrypt under the new key alone
    finally:
        use_keyring(None)


# --- incomes -------------------------------------------------------------------------------------------------

INCOME_READ = "assistance.pii:read"
CHECKER = staff("330212", READ, WRITE, INCOME_READ, "assistance.eligibility:check")
# Amounts no other column of a test database holds by chance: 9,876,543 fen in one month, 8,642,097 over three.
AMOUNTS = ((9_876_543, "2024-01", "2024-01", 9_876_543), (8_642_097, "2024-01", "2024-03", 2_880_699))


async def household_with_incomes(client) -> tuple[int, list[int]]:
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()
    created = await client.post(
        f"{API}/households", json=household(member(age=45), member("spouse", age=44)), headers=client.as_(CHECKER)
    )
    assert created.status_code == 201, created.text
    applicant, spouse = (m["id"] for m in created.json()["members"])
    ids = []
    for member_id, (amount, first, last, _) in zip((applicant, spouse), AMOUNTS, strict=False):
        income = await client.post(
            f"{API}/households/{created.json()['id']}/incomes",
            headers=client.as_(CHECKER),
            json={
                "member_id": member_id,
                "kind": "wages",
                "item": "wages",
                "amount_fen": amount,
                "period_from": first,
                "period_to": last,
                "source": {"kind": "department", "name": "市人力社保局", "obtained_on": "2024-04-02"},
            },
        )
        assert income.status_code == 201, income.text
        assert income.json()["amount_fen"] is None and str(amount) not in income.text
        ids.append(income.json()["id"])
    return created.json()["id"], ids


async def test_no_table_holds_an_income_amount_in_the_clear(client):
    household_id, income_ids = await household_with_incomes(client)
    check = await client.post(
        f"{API}/eligibility-checks",
        json={"household_id": household_id, "as_of": "2024-02-15"},  # January: both incomes' first month
        headers=client.as_(CHECKER),
    )
    assert check.status_code == 200, check.text
    # The check explains its decision with the household's counted income (see services/assistance/pii.py).
    assert 12_000_000 < check.json()["household_monthly_income_fen"] <= 9_876_543 + 2_880_699  # any deduction taken
    status = await client.get(f"{API}/households/{household_id}/economic-status", headers=client.as_(CHECKER))
    assert status.status_code == 200 and not any(str(a) in status.text for row in AMOUNTS for a in (row[0], row[3]))
    async with client.app.state.database.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            rows = await rows_of(session, table.name)
            for amount, _, _, monthly in AMOUNTS:
                assert not any(str(amount) in value or str(monthly) in value for row in rows for value in row), (
                    table.name
                )
        stored = (
            await session.execute(text("SELECT id, amount_fen_enc, monthly_fen_enc FROM incomes ORDER BY id"))
        ).all()
    assert [row[0] for row in stored] == income_ids
    for (_, amount, monthly), (clear_amount, _, _, clear_monthly) in zip(stored, AMOUNTS, strict=False):
        assert amount.startswith("v1:") and monthly.startswith("v1:")
        assert keyring().decrypt("incomes.amount_fen", amount) == str(clear_amount)
        assert keyring().decrypt("incomes.monthly_fen", monthly) == str(clear_monthly)
        with pytest.raises(PiiKeyError):  # moved into the other column, a ciphertext does not decrypt
            keyring().decrypt("incomes.monthly_fen", amount)


async def test_key_rotation_moves_every_income_and_the_eligibility_stays_the_same(client):
    household_id, _ = await household_with_incomes(client)
    body = {"household_id": household_id, "as_of": "2024-02-15"}
    before = await client.post(f"{API}/eligibility-checks", json=body, headers=client.as_(CHECKER))
    assert before.status_code == 200, before.text
    old = keyring()
    new_key = os.urandom(32)
    use_keyring(Keyring(keys={**old.keys, "k3": new_key}, active="k3", index_key=old.index_key))
    try:
        async with client.app.state.database.sessionmaker() as session:
            moved = await reencrypt_all(session, batch=1)
            assert (moved["incomes"], moved["members"]) == (2, 2)
            assert (await reencrypt_all(session))["incomes"] == 0
            stored = [
                v
                for row in (await session.execute(text("SELECT amount_fen_enc, monthly_fen_enc FROM incomes"))).all()
                for v in row
            ]
            await session.commit()
        assert len(stored) == 4 and all(s.startswith("v1:k3:") for s in stored)
        # The old key gone: the single check and the screening's batch path read the same figures as before.
        use_keyring(Keyring(keys={"k3": new_key}, active="k3", index_key=old.index_key))
        after = await client.post(f"{API}/eligibility-checks", json=body, headers=client.as_(CHECKER))
        assert after.status_code == 200 and after.json() == before.json()
        async with client.app.state.database.sessionmaker() as session:
            params = await eligibility.parameters(session, "330212", dt.date(2024, 2, 15))
            assert await batch.load_incomes(session, dt.date(2024, 2, 15), period_months=1) == 2
            totals = (await session.execute(text("SELECT sum(wages), sum(other) FROM screening_member_incomes"))).one()
            assert tuple(totals) == (9_876_543 + 2_880_699, 0)
            await batch.eligible(session, params, dt.date(2024, 2, 15))
            await session.rollback()
    finally:
        use_keyring(None)
