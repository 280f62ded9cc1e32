"""On PostgreSQL, with real commits and real parallelism: the same event told by racing transactions is one
notification, and two workers sending at once send each message exactly once (the unique keys, the conditional
claim with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select

from gateway import seed as gateway_seed
from gateway.app import create_app as create_gateway
from gateway.notifications.models import NotificationPreference
from gateway.settings import GatewaySettings
from services.eldercare.database import JOBS, NOTIFICATION_DELIVERIES, NOTIFICATIONS
from services.eldercare.notices import outbox
from shared.db import Database, utcnow
from tests.conftest import _empty_tables, service_database
from tests.notifications.conftest import SMS_TEMPLATES
from tests.shared.loopback import free_port, serve_in_background

pytestmark = pytest.mark.postgresql_only

STAFF = [f"staff:race-{i:03d}" for i in range(120)]


@pytest.fixture
async def gateway(backend, db_dir, fake_sms, monkeypatch):
    """The gateway on its own pool (it serves the two workers' contact lookups at once), on a loopback port,
    committing for real; its tables are emptied afterwards."""
    for name, value in fake_sms.environment(SMS_TEMPLATES).items():
        monkeypatch.setenv(name, value)
    database = await service_database("gateway", backend, db_dir)
    port = free_port()
    monkeypatch.setenv("ELDERCARE_GATEWAY_URL", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("ELDERCARE_PEER_TOKEN", raising=False)
    await outbox.close_channels()
    app = create_gateway(GatewaySettings(env="test", database_url=database.url, db_pool_size=20))
    server, task = await serve_in_background(app, port)
    try:
        async with app.local_app.state.database.sessionmaker() as session, session.begin():
            await gateway_seed.load(session)  # the services' clients
        yield app
    finally:
        await outbox.close_channels()
        server.should_exit = True
        await task
        await _empty_tables("gateway", database)


@pytest.fixture
async def committed(gateway, backend, db_dir):
    """eldercare's database on its own pool, committing for real; this test's rows are deleted afterwards."""
    database = Database((await service_database("eldercare", backend, db_dir)).url, pool_size=20)
    try:
        yield database
    finally:
        async with database.sessionmaker() as session, session.begin():
            ids = select(NOTIFICATIONS.c.id).where(NOTIFICATIONS.c.key.like("race:%"))
            await session.execute(
                delete(NOTIFICATION_DELIVERIES).where(NOTIFICATION_DELIVERIES.c.notification_id.in_(ids))
            )
            await session.execute(delete(NOTIFICATIONS).where(NOTIFICATIONS.c.key.like("race:%")))
            await session.execute(
                delete(JOBS).where(
                    JOBS.c.task == "notifications.fan_out",
                    JOBS.c.args["notification_id"].as_integer().not_in(select(NOTIFICATIONS.c.id)),
                )
            )
        await database.dispose()


async def tell(database: Database, key: str) -> int | None:
    async with database.sessionmaker() as session, session.begin():
        notification_id = await outbox.notify(
            session,
            key=key,
            kind="call.raised",
            title="紧急呼叫",
            body="测试",
            params=["陈**", "12-07 08:00"],
            audience={"subjects": STAFF},
            emergency=True,
        )
        await asyncio.sleep(0.05)  # hold the transaction open while the others arrive
        return notification_id


async def test_racing_transactions_telling_one_event_make_one_notification(committed):
    made = await asyncio.gather(*(tell(committed, "race:one-event") for _ in range(8)))
    assert len([m for m in made if m is not None]) == 1
    async with committed.sessionmaker() as session:
        n = NOTIFICATIONS
        assert await session.scalar(select(func.count()).select_from(n).where(n.c.key == "race:one-event")) == 1
        (notification_id,) = [m for m in made if m is not None]
        jobs = select(func.count()).select_from(JOBS).where(JOBS.c.task == "notifications.fan_out")
        assert await session.scalar(jobs.where(JOBS.c.args["notification_id"].as_integer() == notification_id)) == 1
        assert await session.scalar(select(func.count()).select_from(n)) >= 1  # the next ordinary read works


async def test_two_workers_sending_at_once_send_every_message_exactly_once(committed, gateway, fake_sms, monkeypatch):
    async with gateway.local_app.state.database.sessionmaker() as session, session.begin():
        session.add_all(
            NotificationPreference(
                subject=s,
                sms=True,
                wechat=False,
                phone=f"139{i:08d}",
                quiet_from_minute=None,
                quiet_until_minute=None,
                updated_at=utcnow(),
            )
            for i, s in enumerate(STAFF)
        )
    notification_id = await tell(committed, "race:two-workers")
    # Two workers fan out and route at once too: the unique key keeps one delivery per person and channel.
    await asyncio.gather(outbox.fan_out(committed), outbox.fan_out(committed))
    await asyncio.gather(outbox.route(committed), outbox.route(committed))
    monkeypatch.setattr(outbox, "page", 10)  # small pages, so the two workers interleave
    reports = await asyncio.gather(outbox.send_due(committed), outbox.send_due(committed))
    assert sum(r["sent"] for r in reports) == len(STAFF)
    assert all(r["sent"] > 0 for r in reports), reports  # both worked
    references = [m["reference"] for m in fake_sms.sent]
    assert len(references) == len(set(references)) == len(STAFF)
    async with committed.sessionmaker() as session:
        d = NOTIFICATION_DELIVERIES
        rows = (
            await session.execute(
                select(d.c.channel, d.c.status, d.c.attempts, func.count())
                .where(d.c.notification_id == notification_id)
                .group_by(d.c.channel, d.c.status, d.c.attempts)
            )
        ).all()
    assert sorted(rows) == [("in_app", "sent", 0, len(STAFF)), ("sms", "sent", 1, len(STAFF))]
