"""The screening job runner: takes a screening, runs its chunks (`screenings.run_chunk`) to the end, survives a
restart (a job whose heartbeat went stale is taken over and resumed from its checkpoint) and reports a failure on
the job."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import or_, select, text, update

from services.assistance.discovery.models import Screening
from services.assistance.discovery.screenings import Turns, next_chunk, run_chunk
from shared.db import Database, utcnow

log = logging.getLogger("assistance.screening")
MAX_ATTEMPTS = 3


async def _chunk_job(database: Database, screening: Screening, after_id: int, last: int, count: int,
                     before: asyncio.Task | None, turns: Turns) -> None:
    async with database.sessionmaker() as session, session.begin():
        await run_chunk(session, screening, after_id, last, count, before_checkpoint=before, turns=turns)


async def claim(database: Database, screening_id: int, stale_after: dt.timedelta) -> bool:
    """Take the job if it is queued, or running with a heartbeat older than `stale_after` (its process died)."""
    now = utcnow()
    async with database.sessionmaker() as session, session.begin():
        taken = await session.execute(
            update(Screening).where(Screening.id == screening_id, Screening.state.in_(("queued", "running")),
                                    or_(Screening.heartbeat_at.is_(None), Screening.heartbeat_at < now - stale_after,
                                        Screening.state == "queued"))
            .values(state="running", heartbeat_at=now, attempts=Screening.attempts + 1)
            .execution_options(synchronize_session=False))
        return taken.rowcount == 1


async def _finish(database: Database, screening_id: int, state: str, error: str | None = None) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(Screening).where(Screening.id == screening_id).values(
            state=state, error=error, finished_at=utcnow()).execution_options(synchronize_session=False))


# Chunks in flight at once on PostgreSQL, each on its own connection and in its own transaction: while the
# database writes the leads of up to WRITING_CHUNKS of them (about one per core the database has for it),
# the next chunk's incomes are read and decrypted in this process, and one more waits its turn to write (`Turns`).
# Their checkpoints still move one after the other (`run_chunk`), so a stop leaves every committed chunk behind
# one checkpoint and the rest to be redone. SQLite has one writer: one chunk at a time, no turns.
PARALLEL_CHUNKS = 4
WRITING_CHUNKS = 2


async def run(database: Database, screening_id: int, *, chunk: int, stale_after: dt.timedelta,
              max_chunks: int | None = None) -> None:
    """Run (or resume) one screening to the end; any error marks it failed with the reason, never lost."""
    if not await claim(database, screening_id, stale_after):
        return
    if database.dialect == "postgresql":
        # Fresh statistics first: without them (a newly loaded city) the planner picks nested loops over the
        # grouped subqueries and a chunk takes seconds instead of milliseconds. ANALYZE samples, so it is cheap.
        async with database.sessionmaker() as session, session.begin():
            await session.execute(text("ANALYZE households, members, incomes, assets, enrolments"))
    depth = PARALLEL_CHUNKS if database.dialect == "postgresql" else 1
    turns = Turns(load=asyncio.Semaphore(1), write=asyncio.Semaphore(WRITING_CHUNKS))
    in_flight: list[asyncio.Task] = []
    try:
        async with database.sessionmaker() as session:
            screening = await session.get(Screening, screening_id)
            if screening.attempts > MAX_ATTEMPTS:
                raise RuntimeError(f"gave up after {MAX_ATTEMPTS} attempts")
            after = screening.last_household_id
        started = 0
        while max_chunks is None or started < max_chunks:
            async with database.sessionmaker() as session:
                last, count = await next_chunk(session, screening, after, chunk)
            if not count:
                break
            before = in_flight[-1] if in_flight else None
            in_flight.append(asyncio.create_task(_chunk_job(database, screening, after, last, count, before, turns)))
            started, after = started + 1, last
            if len(in_flight) >= depth:
                await in_flight.pop(0)
        while in_flight:
            await in_flight.pop(0)
        if max_chunks is not None and started >= max_chunks:
            return  # tests: stop as a crashed process would, leaving the job running
        await _finish(database, screening_id, "done")
    except asyncio.CancelledError:
        await _abandon(in_flight)
        raise  # shutdown: the job stays running and is resumed by the next process
    except Exception as exc:  # noqa: BLE001 - any failure is reported on the job, not swallowed
        await _abandon(in_flight)
        log.exception("screening %s failed", screening_id)
        await _finish(database, screening_id, "failed", f"{type(exc).__name__}: {exc}"[:2000])


async def _abandon(tasks: list[asyncio.Task]) -> None:
    """Cancel the chunks still in flight and wait until their transactions have rolled back."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class ScreeningRunner:
    """Runs screenings in the service process; on start it takes over jobs a previous process left unfinished."""

    def __init__(self, database: Database, *, chunk: int, stale_after_s: float):
        self.database, self.chunk = database, chunk
        self.stale_after = dt.timedelta(seconds=stale_after_s)
        self.tasks: set[asyncio.Task] = set()

    def start(self, screening_id: int) -> None:
        task = asyncio.create_task(run(self.database, screening_id, chunk=self.chunk, stale_after=self.stale_after))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def resume_pending(self) -> None:
        async with self.database.sessionmaker() as session:
            pending = list(await session.scalars(select(Screening.id).where(
                Screening.state.in_(("queued", "running"))).order_by(Screening.id)))
        for screening_id in pending:
            self.tasks.add(task := asyncio.create_task(self._resume_when_stale(screening_id)))
            task.add_done_callback(self.tasks.discard)

    async def _resume_when_stale(self, screening_id: int) -> None:
        """A job may still be alive in another replica: wait for its heartbeat to go stale before taking it."""
        while True:
            await run(self.database, screening_id, chunk=self.chunk, stale_after=self.stale_after)
            async with self.database.sessionmaker() as session:
                state = await session.scalar(select(Screening.state).where(Screening.id == screening_id))
            if state not in ("queued", "running"):
                return
            await asyncio.sleep(max(self.stale_after.total_seconds(), 0.05))

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
