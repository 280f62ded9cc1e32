"""Hot statements sent straight to the driver (shared/direct.py): the same rows and the same errors as through
SQLAlchemy, and a connection left in an unknown state never reaches the next request."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc

import pytest
from sqlalchemy import bindparam, insert, make_url, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.eldercare.elders.models import Elder
from shared import direct
from shared.db import Database, make_engine, utcnow
from shared.errors import Conflict, database_failure
from tests.conftest import service_database
from tests.eldercare.test_elders import id_number

_ELDER_BY_ID = select(
    Elder.id, Elder.id_number, Elder.birth_on, Elder.latitude, Elder.emergency_contacts, Elder.created_at
).where(Elder.id == bindparam("elder_id"))
_INSERT_ELDER = insert(Elder.__table__).values(
    id_number=bindparam("id_number", type_=Elder.__table__.c.id_number.type),
    id_number_index=bindparam("id_number_index"),
    name="直连",
    sex="female",
    birth_on=dt.date(1940, 5, 6),
    address="百丈东路1号",
    address_status="pending",
    area_code="330212001",
    lives_alone=False,
    emergency_contacts=[],
    registered_by="test",
    created_at=bindparam("created_at", type_=Elder.__table__.c.created_at.type),
)


@pytest.fixture
async def database(backend, db_dir):
    """Eldercare's database on its own pool of ONE connection, committing for real: a connection that was not
    handed back, or handed back broken, shows at the next checkout."""
    url = (await service_database("eldercare", backend, db_dir)).url
    database = Database(url, pool_size=1)
    yield database
    async with database.engine.begin() as connection:
        await connection.execute(text("DELETE FROM elders WHERE registered_by IN ('test', 'direct')"))
    await database.dispose()


def _person(serial: str, **values) -> Elder:
    """A person of 1941 with an emergency contact (its phone encrypted inside the JSON), not yet written."""
    return Elder(
        **{
            "id_number": id_number("330212", dt.date(1941, 2, 3), serial),
            "name": "直连",
            "sex": "male",
            "birth_on": dt.date(1941, 2, 3),
            "address": "百丈东路2号",
            "address_status": "pending",
            "area_code": "330212001",
            "emergency_contacts": [{"name": "女儿", "phone": "13900000002", "relation": "child"}],
            "registered_by": "direct",
            "created_at": utcnow(),
        }
        | values
    )


async def _elder(database: Database, serial: str) -> int:
    async with database.sessionmaker() as session, session.begin():
        elder = _person(serial, latitude=29.8712345, longitude=121.56, lives_alone=True)
        session.add(elder)
        await session.flush()
        return elder.id


async def test_a_row_read_straight_from_the_driver_is_the_row_sqlalchemy_reads(database):
    """Encrypted columns decrypted, JSON decoded (with its encrypted phones), a float, a date and a UTC instant."""
    elder_id = await _elder(database, "201")
    async with direct.connect(database, transaction=False) as link:
        read = await link.row(_ELDER_BY_ID, {"elder_id": elder_id})
        assert await link.row(_ELDER_BY_ID, {"elder_id": -1}) is None
    async with database.sessionmaker() as session:
        expected = dict((await session.execute(_ELDER_BY_ID, {"elder_id": elder_id})).one()._mapping)
    assert read == expected
    assert read["id_number"].startswith("330212") and read["created_at"].tzinfo is not None
    assert read["emergency_contacts"][0]["phone"] == "13900000002"


async def test_a_broken_unique_key_is_an_integrity_error_and_the_next_transaction_still_works(database):
    first = id_number("330212", dt.date(1940, 5, 6), "203")
    values = {"id_number": first, "id_number_index": "direct-203", "created_at": utcnow()}
    with pytest.raises(IntegrityError):
        async with direct.connect(database, transaction=True) as link:
            await link.scalar(_INSERT_ELDER.returning(Elder.id), values)
            await link.scalar(_INSERT_ELDER.returning(Elder.id), values)  # the same index: refused
    async with direct.connect(database, transaction=True) as link:  # rolled back: the first insert is gone too
        assert await link.scalar(_INSERT_ELDER.returning(Elder.id), values) is not None


async def test_an_instance_inserted_in_one_statement_reads_back_as_the_orm_would_write_it(database):
    """direct.Inserter: an encrypted column, a value set by a validator (the ID number's blind index), JSON, an
    attribute never set (its column's default, else NULL), the id given back; a second person with the same ID
    number is the unique key's IntegrityError."""
    inserter = direct.Inserter(Elder)
    written = _person("207")  # lives_alone never set
    async with direct.connect(database, transaction=True) as link:
        await inserter.add(link, written)
    assert isinstance(written.id, int)
    async with database.sessionmaker() as session:
        read = await session.get(Elder, written.id)
        assert (read.id_number, read.id_number_index) == (written.id_number, written.id_number_index)
        assert read.emergency_contacts == written.emergency_contacts and read.created_at == written.created_at
        assert read.lives_alone is False  # the column's default=False
        assert read.latitude is None and read.phone is None
    with pytest.raises(IntegrityError):
        async with direct.connect(database, transaction=True) as link:
            await inserter.add(link, _person("207"))


async def test_a_refusal_rolls_back_and_hands_the_same_connection_to_the_next_request(database, backend):
    values = {"id_number": id_number("330212", dt.date(1940, 5, 6), "205"), "id_number_index": "direct-205"}
    backend_pid = text("SELECT pg_backend_pid()" if backend == "postgresql" else "SELECT 1")
    with pytest.raises(Conflict):
        async with direct.connect(database, transaction=True) as link:
            before = await link.scalar(backend_pid, {})
            await link.run(_INSERT_ELDER, values | {"created_at": utcnow()})
            raise Conflict("refused after a write")
    async with direct.connect(database, transaction=False) as link:
        assert await link.scalar(backend_pid, {}) == before  # not closed: a refusal is no reason to reconnect
        assert await link.scalar(text("SELECT count(*) FROM elders WHERE id_number_index = 'direct-205'"), {}) == 0


@pytest.mark.postgresql_only
async def test_a_statement_cancelled_midway_drops_its_connection_and_the_next_request_is_served(database):
    """A client gone or a deadline passed cancels the task while PostgreSQL still runs its statement: that
    connection is closed (PostgreSQL rolls back), never handed to the next request half-way through."""
    started = asyncio.Event()

    async def slow() -> None:
        async with direct.connect(database, transaction=True) as link:
            await link.run(
                _INSERT_ELDER,
                {
                    "id_number": id_number("330212", dt.date(1940, 5, 6), "207"),
                    "id_number_index": "direct-207",
                    "created_at": utcnow(),
                },
            )
            started.set()
            await link.scalar(text("SELECT pg_sleep(30)"), {})

    task = asyncio.create_task(slow())
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(10), direct.connect(database, transaction=False) as link:  # the pool's one slot
        assert await link.scalar(text("SELECT 1"), {}) == 1
        assert await link.scalar(text("SELECT count(*) FROM elders WHERE id_number_index = 'direct-207'"), {}) == 0


@pytest.mark.postgresql_only
async def test_a_connection_lost_midway_is_the_database_unavailable_and_the_next_request_reconnects(database):
    async with direct.connect(database, transaction=False) as link:
        backend_pid = await link.scalar(text("SELECT pg_backend_pid()"), {})
    with pytest.raises(DBAPIError) as lost:
        async with direct.connect(database, transaction=True) as link:
            assert await link.scalar(text("SELECT pg_backend_pid()"), {}) == backend_pid
            other = make_engine(database.url)  # the pool's one connection is this block's
            async with other.connect() as connection:  # a failover, a restart: the server ends the session
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
            await other.dispose()
            await asyncio.sleep(0.1)
            await link.scalar(text("SELECT 1"), {})
    assert database_failure(lost.value) == "unavailable"  # answered 503 with Retry-After by the app
    async with direct.connect(database, transaction=False) as link:
        assert await link.scalar(text("SELECT pg_backend_pid()"), {}) != backend_pid


@pytest.mark.postgresql_only
async def test_statements_built_per_call_leave_no_plan_behind(database):
    """A statement built for one request (a resident's subject inlined, say) is compiled for that request, and its
    plan goes with it: a per-process cache that only grows would hold every request's statement."""
    kept = len(direct._PLANS)
    async with direct.connect(database, transaction=False) as link:
        for n in range(300):
            assert await link.scalar(select(Elder.id).where(Elder.registered_by == f"nobody-{n}"), {}) is None
    gc.collect()
    assert len(direct._PLANS) <= kept + 1  # at most the last one, still referenced by the loop's frame


@pytest.mark.postgresql_only
async def test_a_database_that_refuses_the_connection_raises_what_sqlalchemy_raises(database):
    """The app's handlers read SQLAlchemy's errors (a database starting up is a 503 by its SQLSTATE)."""
    url = make_url(database.url).set(username="no_such_role", password=None)
    refused = Database(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with direct.connect(refused, transaction=True):
                pass
        assert getattr(raised.value.orig, "sqlstate", None) == "28000"  # invalid authorization: ours to fix, a 500
    finally:
        await refused.dispose()
