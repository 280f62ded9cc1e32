"""Personal-data requests under contention, with real commits: the same request sent five times at once is recorded
once; five answers at once answer it once (and the record is erased once); the next ordinary request still works."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from gateway import seed as gateway_seed
from gateway.app import create_app
from gateway.privacy.models import DataRequest, DataRequestEvent
from gateway.settings import GatewaySettings
from tests.conftest import _empty_tables, service_database
from tests.gateway.conftest import bearer
from tests.gateway.test_privacy import (  # noqa: F401 (fixtures)
    PRIVACY,
    a_family,
    categories,
    ok,
    real_time_afterwards,
    resident,
    upstream_charity,
)
from tests.races import next_request_succeeds
from tests.shared.loopback import free_port


@pytest.fixture
async def gateway(backend, upstream_eldercare, upstream_charity, db_dir):  # noqa: F811
    """The gateway on its own pool, committing for real, before the real eldercare and charity."""
    database = await service_database("gateway", backend, db_dir)
    settings = GatewaySettings(
        env="test",
        database_url=database.url,
        db_pool_size=20,
        upstream_eldercare=upstream_eldercare,
        upstream_charity=upstream_charity,
        upstream_assistance=f"http://127.0.0.1:{free_port()}",
        upstream_placenames=f"http://127.0.0.1:{free_port()}",
    )
    app = create_app(settings)
    await app.startup()
    try:
        async with app.local_app.state.database.sessionmaker() as session, session.begin():
            await gateway_seed.load(session)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60
        ) as c:
            c.settings, c.app = settings, app
            yield c
    finally:
        await app.shutdown()
        await _empty_tables("gateway", database)


async def test_one_request_and_one_answer_whatever_the_race(gateway):
    carer, headers = resident(gateway)
    family = await a_family(gateway, carer, headers)
    body = {
        "kind": "deletion",
        "service": "eldercare",
        "category": "care_link_requests",
        "record_id": str(family["asked"]["id"]),
    }
    sent = await asyncio.gather(
        *(gateway.post(f"{PRIVACY}/data-requests", headers=headers, json=body) for _ in range(5))
    )
    assert sorted(r.status_code for r in sent) == [201, 409, 409, 409, 409], [r.text for r in sent]
    [recorded] = [r.json() for r in sent if r.status_code == 201]
    assert all(r.json()["resource"] == f"data-requests/{recorded['id']}" for r in sent if r.status_code == 409)

    city = bearer("staff-city", gateway.settings)
    path = f"{PRIVACY}/data-requests/{recorded['id']}/answer"
    answers = await asyncio.gather(
        *(gateway.post(path, headers=city, json={"outcome": "done", "answer": "已删除"}) for _ in range(5))
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409], [r.text for r in answers]
    async with gateway.app.local_app.state.database.sessionmaker() as session:
        answered = await session.scalar(
            select(func.count()).where(
                DataRequestEvent.data_request_id == recorded["id"], DataRequestEvent.action == "answered"
            )
        )
        assert answered == 1
        assert (await session.get(DataRequest, recorded["id"])).status == "done"
    copy = await next_request_succeeds(gateway.post(f"{PRIVACY}/copies", headers=headers))
    assert categories(copy, "eldercare")["care_link_requests"]["count"] == 0
