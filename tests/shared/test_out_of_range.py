"""A number larger than any column holds is the caller's mistake: a 422 naming the field, never a 500. Any other
database error is ours: a 500 with the request id, never "the database is not answering", which only a lost or
refused connection or a timeout is (503). And every bound the models declare is a CHECK in the database."""

import importlib
import pkgutil
import re

import httpx
import pytest
from sqlalchemy import CheckConstraint, inspect, text

from shared.db import Session, make_engine
from shared.schemas import Schema
from tests.conftest import ENGLISH, client_for, service_database, staff
from tests.shared.loopback import free_port

CLERK = staff("330200", "charity.projects:read")


async def test_an_id_too_large_for_the_database_is_a_422_naming_it(backend, db_dir):
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):
        # Past 8 bytes, and (PostgreSQL's integer column) past 4; SQLite's integers all have 8.
        for too_large in ("99999999999999999999", *(["3000000000"] if backend == "postgresql" else [])):
            response = await client.get(f"/api/charity/v1/projects/{too_large}", headers=client.as_(CLERK))
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"] == [
                {
                    "field": "project_id",
                    "location": "path",
                    "message": "too large",
                    "code": "out_of_range",
                    "label_zh": "项目",
                    "label_en": "project id",
                }
            ]


# ---- what a database error is reported as ------------------------------------------------------------------------


def _route(client, path: str, statement: str) -> None:
    """A route of the app under test that runs one statement on the request's session."""

    async def run(session: Session):
        await session.execute(text(statement))
        return {}

    client.app.add_api_route(path, run)


def _raw(client) -> httpx.AsyncClient:
    # Starlette re-raises an unexpected error to the server after answering it; a server keeps the answer.
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=client.app, raise_app_exceptions=False),
        base_url="http://charity",
        headers=ENGLISH,
    )


async def test_a_database_error_that_is_not_a_lost_connection_is_a_500_with_the_request_id(backend, db_dir, caplog):
    overflow = (
        "SELECT sum(x) FROM (SELECT 9223372036854775807 AS x UNION ALL SELECT 1) AS t"
        if backend == "sqlite"
        else "SELECT CAST(9223372036854775807 AS BIGINT) + 1"
    )
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):
        _route(client, "/missing-table", "SELECT * FROM no_such_table")  # SQLite: an OperationalError
        _route(client, "/sum-overflow", overflow)  # a sum past 64 bits, of no number the caller sent
        async with _raw(client) as raw:
            for path in ("/missing-table", "/sum-overflow"):
                response = await raw.get(path, headers={"X-Request-ID": f"req{path.replace('/', '-')}"})
                assert response.status_code == 500, (path, response.text)
                assert response.json()["type"] == "/problems/internal-error"
                assert "not answering" not in response.text and "retry-after" not in response.headers
                assert (
                    response.json()["request_id"] == response.headers["x-request-id"] == f"req{path.replace('/', '-')}"
                )
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert len(logged) == 2 and all(r.exc_info for r in logged)


async def test_a_number_out_of_range_that_the_caller_sent_is_a_422_naming_it(backend, db_dir):
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):

        async def echo(number: int, session: Session):
            await session.execute(text("SELECT CAST(:n AS BIGINT) + 0"), {"n": number})
            return {}

        client.app.add_api_route("/echo", echo)
        async with _raw(client) as raw:
            response = await raw.get("/echo", params={"number": str(2**64)})
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {
                "field": "number",
                "location": "query",
                "message": "too large",
                "code": "out_of_range",
                "label_zh": "number",
                "label_en": "number",
            }
        ]


@pytest.mark.postgresql_only
async def test_an_id_sent_as_a_whole_float_too_large_for_its_column_is_a_422_naming_it(backend, db_dir):
    """JSON has one number type: 13377718844.0 is a valid integer to the schema, and past an INTEGER column."""
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):

        class Body(Schema):
            elder_id: int

        async def find(body: Body, session: Session):
            await session.execute(text("SELECT CAST(:n AS INTEGER)"), {"n": body.elder_id})
            return {}

        client.app.add_api_route("/find", find, methods=["POST"])
        async with _raw(client) as raw:
            response = await raw.post(
                "/find", content=b'{"elder_id": 13377718844.0}', headers={"content-type": "application/json"}
            )
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {
                "field": "elder_id",
                "location": "body",
                "message": "too large",
                "code": "out_of_range",
                "label_zh": "老人",
                "label_en": "elder id",
            }
        ]


async def test_a_database_that_refuses_connections_is_a_503(db_dir):
    async for client in client_for("charity", await service_database("charity", "sqlite", db_dir)):
        nobody = free_port()  # nothing listens there: the connection is refused

        async def unreachable(nobody: int = nobody):
            engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{nobody}/nothing")
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            finally:
                await engine.dispose()

        client.app.add_api_route("/unreachable", unreachable)
        response = await client.get("/unreachable")
        assert response.status_code == 503 and response.headers["retry-after"], response.text
        assert "not answering" in response.json()["detail"]


@pytest.mark.postgresql_only
async def test_a_statement_past_its_timeout_is_a_503(backend, db_dir):
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):

        async def slow(session: Session):
            await session.execute(text("SET LOCAL statement_timeout = 50"))
            await session.execute(text("SELECT pg_sleep(5)"))

        client.app.add_api_route("/slow", slow)
        response = await client.get("/slow")
        assert response.status_code == 503 and response.headers["retry-after"], response.text


@pytest.mark.postgresql_only
async def test_a_transaction_that_lost_to_a_concurrent_one_is_a_503_to_retry_at_once(backend, db_dir):
    """A deadlock or a serialization failure rolled the transaction back: nothing was written, and the same
    request may well succeed now. Neither a 500 (our bug) nor "not answering" (wait and retry later)."""
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):
        for sqlstate in ("40001", "40P01"):
            _route(
                client, f"/lost-{sqlstate}", f"DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '{sqlstate}'; END $$"
            )
        async with _raw(client) as raw:
            for sqlstate in ("40001", "40P01"):
                response = await raw.get(f"/lost-{sqlstate}")
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                assert "concurrent change" in response.json()["detail"]
                assert "not answering" not in response.text


# ---- the bounds the schemas state are the database's ---------------------------------------------------------------


@pytest.mark.parametrize("service", ["eldercare", "assistance", "charity", "placenames"])
async def test_every_bounded_column_of_the_models_has_its_check_in_the_database(service, backend, db_dir):
    database = await service_database(service, backend, db_dir)
    package = importlib.import_module(f"services.{service}")
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)
    metadata = importlib.import_module(f"services.{service}.database").Base.metadata
    declared = {
        (table.name, constraint.name, re.sub(r"\s+", " ", str(constraint.sqltext)))
        for table in metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
        and constraint.name.endswith("_bounded")
        and " BETWEEN " in str(constraint.sqltext)
    }
    assert declared, service

    def in_database(sync_connection):
        inspector = inspect(sync_connection)
        return {
            (table, check["name"]): check["sqltext"]
            for table in inspector.get_table_names()
            for check in inspector.get_check_constraints(table)
        }

    async with database.engine.connect() as connection:
        found = await connection.run_sync(in_database)
    for table, name, condition in declared:
        assert (table, name) in found, f"{service}: {name} is in the models but not in the database"
        column, low_high = condition.split(" BETWEEN ")
        low, high = low_high.split(" AND ")
        assert column in found[table, name] and low in found[table, name] and high in found[table, name], (
            name,
            found[table, name],
        )
