"""An Idempotency-Key claimed in a transaction of its own (`shared.idempotency.idempotent`) goes with its request when
the request's own transaction does not commit, so that the client's retry does the work at once instead of hearing
"still being processed" until the claim goes stale (60 s).

The work here fails only at COMMIT: a deferred foreign key, checked there on both backends, to a parent row that the
test adds before the retry. No service has such a constraint; the failure stands for any a commit can meet (a
serialization failure, a lost connection)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, func, insert, select

from shared.db import Database, Session, make_engine
from shared.errors import install_error_handlers
from shared.idempotency import IdempotencyKeyHeader, idempotency_table, idempotent
from shared.schemas import Schema
from tests.conftest import _reset_postgres, postgres_url

metadata = MetaData()
KEYS = idempotency_table(metadata)
PARENTS = Table("parents", metadata, Column("id", Integer, primary_key=True))
CHILDREN = Table(
    "children",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("parents.id", deferrable=True, initially="DEFERRED"), nullable=False),
    Column("name", String(20), nullable=False),
)


class ChildIn(Schema):
    parent_id: int
    name: str


class ChildOut(Schema):
    id: int
    name: str


def app_on(database: Database, *, cancel: list[bool]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.database = database

    @app.post("/children", status_code=201)
    async def add_child(request: Request, data: ChildIn, session: Session, key: IdempotencyKeyHeader = None):
        async def create() -> ChildOut:
            child_id = (await session.execute(insert(CHILDREN).values(**data.model_dump()))).inserted_primary_key[0]
            if cancel and cancel.pop():
                raise asyncio.CancelledError  # as when the server cancels the request's task (a shutdown)
            return ChildOut(id=child_id, name=data.name)

        return await idempotent(request, session, KEYS, None, data, create)

    return app


@pytest.fixture
async def database(backend, tmp_path):
    if backend == "postgresql":
        url = postgres_url("idempotency_release")
        await _reset_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'idempotency_release.db'}"
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await engine.dispose()
    database = Database(url, pool_size=5)
    try:
        yield database
    finally:
        await database.dispose()


async def count(database: Database, table: Table) -> int:
    async with database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_failed_commit_releases_the_key_and_the_retry_does_the_work(database):
    transport = httpx.ASGITransport(app=app_on(database, cancel=[]), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        headers = {"Idempotency-Key": "meal-order-1"}
        failed = await client.post("/children", json={"parent_id": 7, "name": "first"}, headers=headers)
        assert failed.status_code >= 400  # the commit broke the deferred key
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert (await count(database, CHILDREN), await count(database, KEYS)) == (0, 0)

        async with database.sessionmaker() as session, session.begin():
            await session.execute(insert(PARENTS).values(id=7))
        retried = await client.post("/children", json={"parent_id": 7, "name": "first"}, headers=headers)
        assert retried.status_code == 201, retried.text  # not 409 "still being processed"
        replayed = await client.post("/children", json={"parent_id": 7, "name": "first"}, headers=headers)
        assert (replayed.status_code, replayed.json()) == (201, retried.json())
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert await count(database, CHILDREN) == 1


async def test_a_cancelled_request_releases_its_key(database):
    async with database.sessionmaker() as session, session.begin():
        await session.execute(insert(PARENTS).values(id=1))
    transport = httpx.ASGITransport(app=app_on(database, cancel=[True]), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        headers = {"Idempotency-Key": "bed-hold-1"}
        with pytest.raises(asyncio.CancelledError):
            await client.post("/children", json={"parent_id": 1, "name": "held"}, headers=headers)
        assert (await count(database, CHILDREN), await count(database, KEYS)) == (0, 0)
        retried = await client.post("/children", json={"parent_id": 1, "name": "held"}, headers=headers)
        assert retried.status_code == 201, retried.text
        assert await count(database, CHILDREN) == 1
