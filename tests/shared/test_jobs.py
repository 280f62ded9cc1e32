"""The suite's one job mechanism (shared/jobs.py), on a service's real `jobs` table, committing for real."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import delete, func, select

from services.charity.database import JOBS
from shared import clock
from shared.db import Database
from shared.errors import Conflict
from shared.jobs import Daily, Every, Monthly, Tasks, Worker
from tests.conftest import service_database

LEASE = dt.timedelta(seconds=600)  # the heartbeat stays quiet: the tests move the clock themselves


@pytest.fixture
async def database(backend, db_dir):
    url = (await service_database("charity", backend, db_dir)).url
    database = Database(url, pool_size=10)
    try:
        yield database
    finally:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(delete(JOBS))
        await database.dispose()
        clock.reset()


def worker(database: Database, tasks: Tasks, name: str = "w1") -> Worker:
    return Worker(database, tasks, name=name, lease=LEASE)


async def enqueue(database: Database, tasks: Tasks, name: str, args: dict | None = None) -> int:
    async with database.sessionmaker() as session, session.begin():
        return await tasks.enqueue(session, name, args)


async def job(database: Database, tasks: Tasks, job_id: int) -> dict:
    async with database.sessionmaker() as session:
        return await tasks.get(session, job_id)


async def test_a_job_runs_once_in_a_worker_and_keeps_its_progress_and_result(database):
    tasks, seen = Tasks(JOBS), []

    @tasks.task("count")
    async def count(ctx):
        seen.append(ctx.args["n"])
        await ctx.progress(50)
        return {"counted": ctx.args["n"]}

    job_id = await enqueue(database, tasks, "count", {"n": 7})
    assert (await job(database, tasks, job_id))["status"] == "queued"
    assert await worker(database, tasks).run_until_idle() == [("count", "succeeded")]
    done = await job(database, tasks, job_id)
    assert (done["status"], done["progress"], done["result"], done["attempts"]) == ("succeeded", 100, {"counted": 7}, 1)
    assert seen == [7]
    assert await worker(database, tasks).run_until_idle() == []  # nothing runs twice


async def test_a_failing_job_is_retried_after_a_pause_then_fails_keeping_its_error(database):
    tasks = Tasks(JOBS)

    @tasks.task("flaky", max_attempts=2)
    async def flaky(ctx):
        raise ValueError(f"attempt {ctx.attempt} broke")

    job_id = await enqueue(database, tasks, "flaky")
    assert await worker(database, tasks).run_until_idle() == [("flaky", "queued")]
    waiting = await job(database, tasks, job_id)
    assert "attempt 1 broke" in waiting["last_error"]
    assert await worker(database, tasks).run_until_idle() == []  # not before its pause is over
    clock.advance(dt.timedelta(minutes=1))
    assert await worker(database, tasks).run_until_idle() == [("flaky", "failed")]
    failed = await job(database, tasks, job_id)
    assert failed["status"] == "failed" and "attempt 2 broke" in failed["last_error"] and failed["attempts"] == 2


async def test_a_dead_workers_job_is_resumed_by_another_once_its_lease_runs_out(database):
    tasks, ran_by = Tasks(JOBS), []

    @tasks.task("resumable")
    async def resumable(ctx):
        ran_by.append(ctx.runner.name)

    job_id = await enqueue(database, tasks, "resumable")
    dead, alive = worker(database, tasks, "dead"), worker(database, tasks, "alive")
    assert (await dead.claim())["id"] == job_id  # and then the process is killed
    assert await alive.run_until_idle() == []  # the lease still holds
    clock.advance(LEASE + dt.timedelta(seconds=1))
    assert await alive.run_until_idle() == [("resumable", "succeeded")]
    assert ran_by == ["alive"]
    await dead._finish(job_id, status="failed")  # the dead worker's late word changes nothing
    assert (await job(database, tasks, job_id))["status"] == "succeeded"


async def test_cancel_stops_a_queued_job_at_once_and_a_running_one_at_its_next_step(database):
    tasks, steps = Tasks(JOBS), []

    @tasks.task("long")
    async def long(ctx):
        for step in range(10):
            steps.append(step)
            if step == 2:  # someone cancels while it runs
                async with database.sessionmaker() as session, session.begin():
                    assert (await tasks.cancel(session, ctx.job_id))["cancel_requested"]
            await ctx.progress(step * 10)

    queued = await enqueue(database, tasks, "long")
    async with database.sessionmaker() as session, session.begin():
        assert (await tasks.cancel(session, queued))["status"] == "cancelled"
    async with database.sessionmaker() as session:
        with pytest.raises(Conflict):
            await tasks.cancel(session, queued)
    running = await enqueue(database, tasks, "long")
    assert await worker(database, tasks).run_until_idle() == [("long", "cancelled")]
    assert steps == [0, 1, 2]
    assert (await job(database, tasks, running))["progress"] == 20  # the report that heard the cancel


async def test_a_singleton_task_has_one_live_job_however_many_ask_at_once(database):
    tasks, ran = Tasks(JOBS), []

    @tasks.task("nightly", singleton=True)
    async def nightly(ctx):
        ran.append(ctx.job_id)

    ids = await asyncio.gather(*(enqueue(database, tasks, "nightly") for _ in range(12)))
    assert len(set(ids)) == 1
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(JOBS)) == 1
    assert await worker(database, tasks).run_until_idle() == [("nightly", "succeeded")]
    # Once it finished, the next request for one is an ordinary new job.
    assert await enqueue(database, tasks, "nightly") != ids[0]


async def test_workers_sharing_the_queue_run_every_job_exactly_once(database):
    tasks, runs = Tasks(JOBS), Counter()

    @tasks.task("item")
    async def item(ctx):
        runs[ctx.args["i"]] += 1
        await asyncio.sleep(0)

    for i in range(40):
        await enqueue(database, tasks, "item", {"i": i})
    results = await asyncio.gather(*(worker(database, tasks, f"w{n}").run_until_idle() for n in range(4)))
    assert sum(len(r) for r in results) == 40
    assert runs == Counter({i: 1 for i in range(40)})
    assert await enqueue(database, tasks, "item", {"i": 99})  # the queue still takes work afterwards


async def test_a_schedule_enqueues_each_slot_once_across_workers_and_again_when_the_clock_moves_on(database):
    tasks, ran = Tasks(JOBS), []

    @tasks.task("reconcile", schedule=Daily(dt.time(2, 0)))
    async def reconcile(ctx):
        ran.append(ctx.args["slot"])

    workers = [worker(database, tasks, f"w{n}") for n in range(3)]
    await asyncio.gather(*(w.schedule() for w in workers))
    await asyncio.gather(*(w.schedule() for w in workers))
    assert [r for w in workers for r in await w.run_until_idle()] == [("reconcile", "succeeded")]
    clock.advance(dt.timedelta(days=1))
    assert await workers[1].run_until_idle() == [("reconcile", "succeeded")]
    first, second = (dt.datetime.fromisoformat(s) for s in ran)
    assert second - first == dt.timedelta(days=1)
    assert second.astimezone(clock.SHANGHAI).time() == dt.time(2, 0)


def test_schedule_slots_are_shanghai_wall_times():
    at = dt.datetime(2027, 3, 1, 1, 30, tzinfo=clock.SHANGHAI)  # before 02:00: yesterday's slot
    assert Daily(dt.time(2, 0)).slot(at) == dt.datetime(2027, 2, 28, 2, 0, tzinfo=clock.SHANGHAI)
    # The 31st of a short month is its last day; before this month's slot, last month's stands.
    assert Monthly(31, dt.time(3, 0)).slot(at) == dt.datetime(2027, 2, 28, 3, 0, tzinfo=clock.SHANGHAI)
    assert Monthly(1, dt.time(0, 0)).slot(at) == dt.datetime(2027, 3, 1, 0, 0, tzinfo=clock.SHANGHAI)
    assert Every(15).slot(at) == dt.datetime(2027, 3, 1, 1, 30, tzinfo=clock.SHANGHAI)
    assert Every(15).slot(at + dt.timedelta(minutes=14)) == dt.datetime(2027, 3, 1, 1, 30, tzinfo=clock.SHANGHAI)


async def test_a_cancel_that_a_finish_overtakes_is_a_conflict_and_the_session_goes_on(database):
    # The cancel read the job running, then the worker's finish committed before its conditional updates: neither
    # matched, and the cancel answered 200 as if asked, on a job that had succeeded.
    tasks = Tasks(JOBS)

    @tasks.task("quick")
    async def quick(ctx):
        return {"done": True}

    job_id = await enqueue(database, tasks, "quick")
    assert await worker(database, tasks).run_until_idle() == [("quick", "succeeded")]
    real_get, reads = tasks.get, []

    async def stale_first(session, job_id):  # what the cancel read before the finish committed
        row = await real_get(session, job_id)
        reads.append(row)
        return row | {"status": "running"} if len(reads) == 1 else row

    tasks.get = stale_first  # type: ignore[method-assign]
    async with database.sessionmaker() as session:
        with pytest.raises(Conflict):
            await tasks.cancel(session, job_id)
        await session.rollback()
        assert (await real_get(session, job_id))["status"] == "succeeded"
