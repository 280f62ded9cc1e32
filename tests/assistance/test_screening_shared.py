"""One screening shared by several workers (discovery/runner.py): the same leads as one worker alone, a worker
killed mid-chunk taken over after its lease, a cancel that stops every worker's part, and the next screening
after each race as ordinary as ever."""

import asyncio
import contextlib
import datetime as dt

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from services.assistance.database import JOBS as JOBS_TABLE
from services.assistance.discovery import batch, runner, screenings
from services.assistance.discovery.models import Screening, ScreeningChunk
from services.assistance.jobs import tasks
from services.assistance.settings import AssistanceSettings
from shared.jobs import Worker
from tests.assistance.test_screening import API, CITY, HOUSEHOLDS, JOBS, all_leads, city, job_of, screened, screening_of
from tests.races import next_request_succeeds

LEASE = dt.timedelta(minutes=1)


def targets(leads) -> list[tuple]:
    return sorted((x["household_id"], x["programme"], x["member_id"] or 0) for x in leads)


async def chunks_of(client, screening_id) -> list[ScreeningChunk]:
    async with client.app.state.database.sessionmaker() as session:
        return list(
            await session.scalars(
                select(ScreeningChunk).where(ScreeningChunk.screening_id == screening_id).order_by(ScreeningChunk.id)
            )
        )


def slow_writes(monkeypatch, seconds=0.05):
    """Each chunk's leads take a while to write, as at city scale, so that the workers overlap."""
    write_leads = batch.write_leads

    async def slow(*args, **kwargs):
        await asyncio.sleep(seconds)
        return await write_leads(*args, **kwargs)

    monkeypatch.setattr(batch, "write_leads", slow)


async def screening_jobs_ended(client) -> bool:
    """No screening job is queued or running any more: the screenings' own and their helpers."""
    async with client.app.state.database.sessionmaker() as session:
        live = await session.scalar(
            select(JOBS_TABLE.c.id).where(
                JOBS_TABLE.c.task.like("screening.%"), JOBS_TABLE.c.status.in_(("queued", "running"))
            )
        )
    return live is None


async def until(condition, timeout=60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def workers(client, count, kind=Worker):
    """`count` worker loops (Worker.run, as `python -m services.assistance.worker` runs it) on the app's
    database, stopped on the way out."""
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(kind(client.app.state.database, tasks, name=f"w{i}", lease=LEASE, poll_s=0.05).run(stop))
        for i in range(count)
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*loops)


async def next_screening_is_exact(client, expected) -> None:
    """After the race, the next screening through the API, run by one worker, is done with exactly the leads."""
    started = await next_request_succeeds(client.post(f"{API}/screenings", json={}, headers=client.as_(CITY)), 202)
    done = await screened(client, started["id"])
    assert (done["state"], done["processed_households"]) == ("done", HOUSEHOLDS), done
    leads = await all_leads(client, started["id"])
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected
    assert len(leads) == done["leads_count"]


async def test_three_workers_sharing_a_screening_find_exactly_the_leads_of_one(committed_client, monkeypatch):
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "40")
    monkeypatch.setenv("ASSISTANCE_SCREENING_WORKERS", "3")
    expected = await city(client)
    # One worker alone first.
    alone = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    alone_done = await screened(client, alone["id"])
    assert alone_done["state"] == "done"
    one = targets(await all_leads(client, alone["id"]))
    # Then three at once.
    slow_writes(monkeypatch)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    async with workers(client, 3):
        # Not until the screening is done: a helper job may still be queued then (its chunks were all taken before
        # a free worker turned to it), and stopping the workers there leaves it queued. A worker that takes it
        # later finds the screening done and ends it at once.
        await until(lambda: screening_jobs_ended(client))
    done = await screening_of(client, started["id"])
    assert (done["state"], done["processed_households"], done["progress_percent"]) == ("done", HOUSEHOLDS, 100.0)
    shared = targets(await all_leads(client, started["id"]))
    assert shared == one and len(set(shared)) == len(shared) == done["leads_count"] == len(expected)
    chunks = await chunks_of(client, started["id"])
    assert len(chunks) == HOUSEHOLDS // 40 and all(c.state == "done" and c.claims == 1 for c in chunks)
    assert sum(c.leads for c in chunks) == done["leads_count"]
    if client.app.state.database.dialect == "postgresql":
        # Every job held chunks of its own: the screening's and its two helpers, each in another worker.
        assert len({c.claimed_by for c in chunks}) >= 2
    # Every job ended: the screening's and the helpers, which found the screening done.
    async with client.app.state.database.sessionmaker() as session:
        ended = (
            await session.execute(
                select(JOBS_TABLE.c.task, JOBS_TABLE.c.status).where(JOBS_TABLE.c.task.like("screening.%"))
            )
        ).all()
    assert sorted(ended) == sorted([("screening.run", "succeeded")] * 2 + [("screening.chunks", "succeeded")] * 4)
    await next_screening_is_exact(client, expected)


async def test_a_worker_killed_mid_chunk_leaves_it_to_another_after_its_lease(
    committed_client, monkeypatch, moved_clock
):
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "100")
    monkeypatch.setenv("ASSISTANCE_SCREENING_WORKERS", "2")
    expected = await city(client)
    database = client.app.state.database
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    write_leads, stuck = batch.write_leads, asyncio.Event()

    async def never_ending(*args, **kwargs):
        stuck.set()
        await asyncio.Event().wait()  # killed in here, its leads half written

    monkeypatch.setattr(batch, "write_leads", never_ending)
    dying = Worker(database, tasks, name="dying", lease=LEASE)
    killed = asyncio.create_task(dying.run_one(await dying.claim()))
    await stuck.wait()
    await asyncio.sleep(0.2)  # on PostgreSQL its other lanes have claimed their chunks too
    killed.cancel()  # what a killed process does to the job in hand: nothing more reaches the database
    await asyncio.gather(killed, return_exceptions=True)
    monkeypatch.setattr(batch, "write_leads", write_leads)
    held = [c for c in await chunks_of(client, started["id"]) if c.state == "running"]
    assert held and all(c.claimed_by.startswith("dying#") for c in held)

    # Another worker joins (the helper job): it does the chunks nobody holds, then waits for the dead one's.
    other = Worker(database, tasks, name="other", lease=LEASE)
    joined = asyncio.create_task(other.run_until_idle())

    async def only_the_dead_ones_left():
        left = [c for c in await chunks_of(client, started["id"]) if c.state != "done"]
        return {c.id for c in left} == {c.id for c in held}

    await until(only_the_dead_ones_left)
    await asyncio.sleep(2 * runner.WAIT_S)
    assert {c.state for c in await chunks_of(client, started["id"]) if c.id in {h.id for h in held}} == {"running"}
    moved_clock(2 * LEASE)  # the dead worker's lease runs out: its chunks are taken over
    ran = await asyncio.wait_for(joined, 60)
    assert ("screening.chunks", "succeeded") in ran
    # The screening's own job, abandoned by the dead worker, is taken again and finds the screening done.
    assert ("screening.run", "succeeded") in ran
    done = await screening_of(client, started["id"])
    assert (done["state"], done["processed_households"]) == ("done", HOUSEHOLDS), done
    leads = await all_leads(client, started["id"])
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected
    assert len(leads) == done["leads_count"] == len(expected)
    chunks = await chunks_of(client, started["id"])
    assert all(c.state == "done" for c in chunks)
    assert {c.claims for c in chunks if c.id in {h.id for h in held}} == {2}
    assert all(c.claimed_by.startswith("other#") for c in chunks if c.id in {h.id for h in held})
    await next_screening_is_exact(client, expected)


async def test_a_cancel_stops_every_worker_of_a_shared_screening(committed_client, monkeypatch):
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "10")
    monkeypatch.setenv("ASSISTANCE_SCREENING_WORKERS", "2")
    expected = await city(client)
    slow_writes(monkeypatch, 0.2)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    asked = []

    class CancellingOnce(Worker):
        """Staff cancel the screening's job through the API once three chunks are committed (by any worker)."""

        async def renew(self, job_id, *, progress=None):
            if progress and not asked and sum(c.state == "done" for c in await chunks_of(client, started["id"])) >= 3:
                asked.append(await client.post(f"{API}/jobs/{started['job_id']}/cancel", headers=client.as_(JOBS)))
            await super().renew(job_id, progress=progress)

    async with workers(client, 2, CancellingOnce):

        async def cancel_asked():
            return bool(asked)

        await until(cancel_asked)
        assert asked[0].status_code == 200, asked[0].text

        await until(lambda: screening_jobs_ended(client))
        chunks_after_stop = await chunks_of(client, started["id"])
        await asyncio.sleep(0.5)  # nothing moves any more
        assert [(c.id, c.state) for c in await chunks_of(client, started["id"])] == [
            (c.id, c.state) for c in chunks_after_stop
        ]
    failed = await screening_of(client, started["id"])
    assert failed["state"] == "failed" and failed["error"] == "cancelled: its job was cancelled"
    done_chunks = [c for c in chunks_after_stop if c.state == "done"]
    assert 0 < len(done_chunks) < len(chunks_after_stop)
    # What was committed is whole: the done chunks' leads, counted on the screening, and nothing of the others.
    leads = await all_leads(client, started["id"])
    assert len(leads) == failed["leads_count"] == sum(c.leads for c in done_chunks)
    assert failed["processed_households"] == sum(c.households for c in done_chunks)
    in_done = {(x["household_id"], x["programme"], x["member_id"]) for x in leads}
    assert in_done == {e for e in expected if any(c.after_id < e[0] <= c.last_id for c in done_chunks)}
    async with client.app.state.database.sessionmaker() as session:
        assert (await session.get(Screening, started["id"])).state == "failed"
    await next_screening_is_exact(client, expected)


async def cancelled_screening_is_failed(client, started) -> None:
    """The screening's own row says failed, cancelled (not only the API, from its job), and its job is cancelled."""
    async with client.app.state.database.sessionmaker() as session:
        row = await session.get(Screening, started["id"])
    assert (row.state, row.error, row.finished_at is not None) == ("failed", screenings.CANCELLED, True)
    shown = await screening_of(client, started["id"])
    assert (shown["state"], shown["error"]) == ("failed", screenings.CANCELLED), shown
    assert (await job_of(client, started["job_id"]))["status"] == "cancelled"


async def test_a_cancel_heard_by_the_lease_renewal_fails_the_screening_row(committed_client, monkeypatch):
    """The worker's own renewal of the lease (not a step of the handler) hears the cancel and stops the handler in
    the middle of a step: the screening's row ends failed all the same, and the next screening is ordinary."""
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "20")  # more chunks than lanes: the cancel comes before the last
    monkeypatch.setenv("ASSISTANCE_SCREENING_WORKERS", "1")
    expected = await city(client)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    asked = []

    class SlowStep(Worker):
        """After its first chunk the handler's next step takes longer than the lease's renewals: the cancel,
        sent meanwhile, is heard by a renewal (`Worker._heartbeat`), which stops the handler where it is."""

        async def renew(self, job_id, *, progress=None):
            if progress is None:  # the lease's own renewal
                return await super().renew(job_id)
            if not asked:
                asked.append(await client.post(f"{API}/jobs/{started['job_id']}/cancel", headers=client.as_(JOBS)))
            await asyncio.Event().wait()

    worker = SlowStep(client.app.state.database, tasks, name="w", lease=dt.timedelta(seconds=1))
    assert await asyncio.wait_for(worker.run_one(await worker.claim()), 60) == "cancelled"
    assert asked[0].status_code == 200, asked[0].text
    await cancelled_screening_is_failed(client, started)
    await next_screening_is_exact(client, expected)


async def test_a_cancel_between_two_chunks_fails_the_screening_and_its_job(committed_client, monkeypatch):
    """A cancel that lands after one chunk's progress was reported, before the next chunk is claimed: the job finds
    nothing more to claim and must still end cancelled, with its screening failed (not succeeded and running)."""
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "100")
    monkeypatch.setenv("ASSISTANCE_SCREENING_WORKERS", "1")
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNKS_IN_FLIGHT", "1")  # none left to report after the cancel
    expected = await city(client)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    asked = []

    class CancelledAfterRenewal(Worker):
        async def renew(self, job_id, *, progress=None):
            await super().renew(job_id, progress=progress)
            if progress and not asked:
                asked.append(await client.post(f"{API}/jobs/{started['job_id']}/cancel", headers=client.as_(JOBS)))

    worker = CancelledAfterRenewal(client.app.state.database, tasks, name="w", lease=LEASE)
    assert await asyncio.wait_for(worker.run_one(await worker.claim()), 60) == "cancelled"
    assert asked[0].status_code == 200, asked[0].text
    await cancelled_screening_is_failed(client, started)
    chunks = await chunks_of(client, started["id"])
    assert [c.state for c in chunks] == ["done", "queued", "queued", "queued"]
    await next_screening_is_exact(client, expected)


@pytest.mark.parametrize("asked", ["0", "17", "four"])
def test_chunks_in_flight_outside_one_to_sixteen_stop_the_worker_at_start(monkeypatch, asked):
    """ASSISTANCE_SCREENING_CHUNKS_IN_FLIGHT is read when the settings are: a value no screening can run with is
    refused there, naming the setting, rather than when the first screening starts."""
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNKS_IN_FLIGHT", asked)
    with pytest.raises(ValidationError, match="screening_chunks_in_flight"):
        AssistanceSettings()
