"""Business counters: an event is counted when its transaction commits, never when it rolls back."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.metrics import EVENTS, count_after_commit
from tests.conftest import service_database


def counted(event: str) -> int:
    return EVENTS.counts.get(("test", event, "ok"), 0)


async def test_an_event_is_counted_once_when_its_transaction_commits(backend, db_dir):
    database = await service_database("gateway", backend, db_dir)
    before = counted("committed")
    async with AsyncSession(database.engine) as session:
        await session.execute(text("SELECT 1"))
        count_after_commit(session, "test", "committed")
        count_after_commit(session, "test", "committed")
        assert counted("committed") == before  # not yet: the work may still fail
        await session.commit()
        assert counted("committed") == before + 2
        await session.execute(text("SELECT 1"))
        await session.commit()  # a later transaction of the same session counts nothing again
    assert counted("committed") == before + 2


async def test_an_event_of_a_rolled_back_transaction_is_never_counted(backend, db_dir):
    database = await service_database("gateway", backend, db_dir)
    before = counted("rolled_back")
    async with AsyncSession(database.engine) as session:
        await session.execute(text("SELECT 1"))
        count_after_commit(session, "test", "rolled_back")
        await session.rollback()
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert counted("rolled_back") == before
