"""Donations, the hot write sent straight to the driver (shared/direct.py), under bad input, a lock that times out,
one key sent many times, and with the donor's phone: the answers the routes through SQLAlchemy give, nothing
half-written, no claim left behind, and every connection back in the pool.

On PostgreSQL these run on a real pool (committed_client): a test's outer transaction would take the route through
SQLAlchemy instead (see shared.direct.connect)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db import make_engine
from tests.charity.factories import API, YINZHOU, donation_body, project
from tests.races import next_request_succeeds

PHONE = "13912345678"


def checked_out(client) -> int:
    return client.app.state.database.engine.pool.checkedout()


async def count(client, sql: str, **params) -> int:
    async with client.app.state.database.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


def give(client, body: dict, key: str | None = None):
    headers = client.as_(YINZHOU) | ({"Idempotency-Key": key} if key else {})
    return client.post(f"{API}/donations", json=body, headers=headers)


async def test_bad_donations_are_422s_naming_the_field_and_write_nothing(committed_client, backend):
    client = committed_client
    pid = (await project(client))["id"]
    good = donation_body(pid, "wx-bad-0")
    too_large = (2**63, *([3_000_000_000] if backend == "postgresql" else []))
    cases = [
        *[({"project_id": n}, "project_id") for n in (*too_large, 0, -1, 999_999)],
        *[({"amount_fen": n}, "amount_fen") for n in (2**63, 0, -1, "100", 1.5)],
        ({"channel_txn_id": "x" * 65}, "channel_txn_id"),
        ({"channel_txn_id": "wx\x00nul"}, "channel_txn_id"),
        ({"channel_txn_id": ""}, "channel_txn_id"),
        ({"donor": {"kind": "person", "name": "王\x00明", "phone": PHONE}}, "donor.name"),
        ({"donor": {"kind": "person", "name": "王" * 101}}, "donor.name"),
        ({"donated_at": "2999-01-01T00:00:00+08:00"}, "donated_at"),
        ({"project_id": "一"}, "project_id"),
    ]
    for n, (change, field) in enumerate(cases):
        response = await give(client, good | change, key=f"bad-{n}")
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]], (change, response.text)
    assert await count(client, "SELECT count(*) FROM donations") == 0
    assert await count(client, "SELECT count(*) FROM idempotency_keys") == 0
    assert checked_out(client) == 0
    # A key whose first request was refused takes the corrected one.
    await next_request_succeeds(give(client, good, key="bad-0"))
    assert checked_out(client) == 0


async def test_one_key_sent_many_times_at_once_records_one_donation_with_the_phone_masked(committed_client):
    client = committed_client
    pid = (await project(client))["id"]
    body = donation_body(pid, "wx-once")
    responses = await asyncio.gather(*(give(client, body, key="one-key") for _ in range(8)))
    # The copies wait for the first one's claim (taken in its transaction) and replay its answer.
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    answered = responses
    assert len({r.text for r in answered}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in responses].count("true") == 7
    donation = answered[0].json()
    assert donation["donor_phone_masked"] != PHONE and donation["donor_phone_masked"].endswith(PHONE[-4:])
    assert PHONE not in answered[0].text
    assert await count(client, "SELECT count(*) FROM donations") == 1
    # At rest: the phone encrypted in its row, and never in the stored answer a replay sends.
    assert (
        await count(
            client, "SELECT count(*) FROM donations WHERE CAST(donor_phone_enc AS TEXT) LIKE :p", p=f"%{PHONE}%"
        )
        == 0
    )
    assert await count(client, "SELECT count(*) FROM idempotency_keys WHERE response_body LIKE :p", p=f"%{PHONE}%") == 0
    replayed = await give(client, body, key="one-key")
    assert replayed.json() == donation and replayed.headers["Idempotent-Replayed"] == "true"
    other = await give(client, donation_body(pid, "wx-other"), key="one-key")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert checked_out(client) == 0


@pytest.mark.postgresql_only
async def test_a_donation_whose_lock_times_out_is_a_503_and_its_key_retries(committed_client):
    """The project's row held by a long transaction past the lock timeout: a 503 to retry, the transaction rolled
    back with the key's claim, the connection back in the pool outside any transaction, and the retry recorded."""
    client = committed_client
    pid = (await project(client))["id"]
    database = client.app.state.database
    name = database.url.rsplit("/", 1)[-1]
    admin = make_engine(database.url)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"ALTER DATABASE \"{name}\" SET lock_timeout = '300ms'"))
            await connection.commit()
        await database.engine.dispose()  # new connections, which take the setting
        async with admin.connect() as blocker:
            await blocker.execute(text("SELECT 1 FROM projects WHERE id = :id FOR UPDATE"), {"id": pid})
            timed_out = await give(client, donation_body(pid, "wx-locked"), key="locked")
            await blocker.rollback()
        assert timed_out.status_code == 503, timed_out.text
        assert timed_out.headers["content-type"].startswith("application/problem+json")
        assert checked_out(client) == 0
        assert await count(client, "SELECT count(*) FROM idempotency_keys") == 0
        assert await count(client, "SELECT count(*) FROM donations") == 0
        await next_request_succeeds(give(client, donation_body(pid, "wx-locked"), key="locked"))
        await next_request_succeeds(give(client, donation_body(pid, "wx-after")))
        assert await count(client, "SELECT count(*) FROM donations") == 2
        assert checked_out(client) == 0
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" RESET lock_timeout'))
            await connection.commit()
        await admin.dispose()
        await database.engine.dispose()
