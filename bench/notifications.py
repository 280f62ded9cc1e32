"""Notifications in bulk, a phase of `./dev bench eldercare` (`--notifications N`, 10,000 by default;
`--only notifications` runs this phase alone).

N notifications are queued in eldercare's outbox on PostgreSQL (`outbox.notify`, 500 per transaction, as events
would write them), each to its own person, who chose SMS (and every second one WeChat too) in the gateway's
preferences. Then `--notify-workers` job workers (shared/jobs.Worker, in this process, claiming with SKIP LOCKED)
run the outbox's tasks until nothing is due: each notification is fanned out (its in-app message), routed (the
person's contacts from the running gateway, as the eldercare client) and sent through the real provider code
(Tencent Cloud's SDK, WeChat's HTTP API) to fake providers on loopback. Printed: the queuing rate, the sending
rate (notifications and messages per second), and the check that every message went out exactly once.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.common import say
from gateway import seed as gateway_seed
from gateway.notifications.models import NotificationPreference
from services.eldercare.database import NOTIFICATION_DELIVERIES
from services.eldercare.notices import outbox
from shared.db import Database, utcnow
from shared.jobs import Worker
from tests.shared.fake_providers import FakeTencentSms, FakeWeChat

SMS_TEMPLATES = {"bench.notice": "3000001"}
WECHAT_TEMPLATES = {"bench.notice": "wx-bench"}
BATCH = 500


async def people(gateway_db: Database, count: int) -> list[str]:
    """`count` people, each with SMS (and every second one WeChat) chosen and no quiet hours."""
    subjects = [f"staff:bench-{i:06d}" for i in range(count)]
    async with gateway_db.sessionmaker() as session, session.begin():
        await gateway_seed.load(session)  # the eldercare client, which reads the contacts
        now = utcnow()
        session.add_all(
            NotificationPreference(
                subject=subject,
                sms=True,
                wechat=i % 2 == 0,
                phone=f"139{i:08d}",
                wechat_openid=f"openid-bench-{i}",
                quiet_from_minute=None,
                quiet_until_minute=None,
                updated_at=now,
            )
            for i, subject in enumerate(subjects)
        )
    return subjects


async def run(gateway_url: str, database_url: str, gateway_database: Path, *, count: int, workers: int) -> None:
    sms, wechat = FakeTencentSms(), FakeWeChat()
    await sms.start()
    await wechat.start()
    os.environ.update(sms.environment(SMS_TEMPLATES) | wechat.environment(WECHAT_TEMPLATES))
    os.environ["ELDERCARE_GATEWAY_URL"] = gateway_url  # the workers ask the running gateway for contacts
    os.environ.pop("ELDERCARE_PEER_TOKEN", None)
    await outbox.close_channels()
    gateway_db = Database(f"sqlite+aiosqlite:///{gateway_database}")
    database = Database(database_url.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=workers + 4)
    try:
        subjects = await people(gateway_db, count)
        say()
        say(f"notifications: {count} queued, each to one person (SMS; WeChat for every second), {workers} workers")
        started = time.perf_counter()
        for first in range(0, count, BATCH):
            async with database.sessionmaker() as session, session.begin():
                for i in range(first, min(count, first + BATCH)):
                    await outbox.notify(
                        session,
                        key=f"bench.notice:{i}",
                        kind="bench.notice",
                        title="测试通知",
                        body="基准测试",
                        params=["陈**", "12-07 08:00"],
                        audience={"subjects": [subjects[i]]},
                    )
        queued_s = time.perf_counter() - started
        say(f"queued   {count} in {queued_s:.1f} s: {count / queued_s:,.0f} notifications/s (an outbox row each)")

        started = time.perf_counter()
        runners = [Worker(database, outbox.tasks, name=f"bench-{k}") for k in range(workers)]
        await asyncio.gather(*(w.run_until_idle(max_jobs=2 * count) for w in runners))
        sent_s = time.perf_counter() - started
        d = NOTIFICATION_DELIVERIES
        async with database.sessionmaker() as session:
            counts = dict(
                (f"{channel} {status}", n)
                for channel, status, n in await session.execute(
                    select(d.c.channel, d.c.status, func.count()).group_by(d.c.channel, d.c.status)
                )
            )
        messages = len(sms.sent) + len(wechat.sent)
        say(
            f"sent     {count} notifications in {sent_s:.1f} s: {count / sent_s:,.0f} notifications/s, "
            f"{messages / sent_s:,.0f} provider messages/s ({len(sms.sent)} SMS, {len(wechat.sent)} WeChat)"
        )
        references = [m["reference"] for m in sms.sent]
        say(
            f"deliveries {dict(sorted(counts.items()))}; SMS sent twice: {len(references) - len(set(references))}; "
            f"refused by the fake SMS provider (bad signature): {len(sms.refused)}"
        )
    finally:
        await outbox.close_channels()
        await sms.stop()
        await wechat.stop()
        await gateway_db.dispose()
        await database.dispose()
