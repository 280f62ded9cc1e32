"""Running a screening to its end in a worker process, as the job `screening.run` (services/assistance/jobs.py).

The chunks (`screenings.run_chunk`) are committed steps: each commits its leads with the screening's checkpoint,
and the job reports its progress between them. A job taken over after its worker died (its lease ran out,
shared/jobs.py) resumes after the last checkpoint and writes no lead twice. The screening row says how it went:
running, done, or failed with the reason (a cancel included); a failed attempt that will be retried leaves it
queued with the reason until the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text, update

from services.assistance.discovery.models import Screening
from services.assistance.discovery.screenings import CANCELLED, LIVE, Turns, next_chunk, run_chunk
from shared.db import Database, utcnow
from shared.jobs import Cancelled, LeaseLost

log = logging.getLogger("assistance.screening")
MAX_ATTEMPTS = 3  # the job's: a failed attempt is retried, from its checkpoint, until the third

Progress = Callable[[int], Awaitable[None]]


async def _no_progress(_percent: int) -> None:
    pass


async def _chunk_job(
    database: Database,
    screening: Screening,
    after_id: int,
    last: int,
    count: int,
    before: asyncio.Task | None,
    turns: Turns,
) -> int:
    async with database.sessionmaker() as session, session.begin():
        await run_chunk(session, screening, after_id, last, count, before_checkpoint=before, turns=turns)
    return count


async def _start(database: Database, screening_id: int) -> Screening | None:
    """Mark the screening running, one more attempt; None when it has ended already (its job's worker died after
    finishing it)."""
    async with database.sessionmaker() as session, session.begin():
        started = await session.execute(
            update(Screening)
            .where(Screening.id == screening_id, Screening.state.in_(LIVE))
            .values(state="running", attempts=Screening.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return await session.get(Screening, screening_id) if started.rowcount == 1 else None


async def _set(database: Database, screening_id: int, state: str, error: str | None = None) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Screening)
            .where(Screening.id == screening_id)
            .values(state=state, error=error, finished_at=utcnow() if state in ("done", "failed") else None)
            .execution_options(synchronize_session=False)
        )


# Chunks in flight at once on PostgreSQL, each on its own connection and in its own transaction: while the
# database writes the leads of up to WRITING_CHUNKS of them (about one per core the database has for it),
# the next chunk's incomes are read and decrypted in this process, and one more waits its turn to write (`Turns`).
# Their checkpoints still move one after the other (`run_chunk`), so a stop leaves every committed chunk behind
# one checkpoint and the rest to be redone. SQLite has one writer: one chunk at a time, no turns.
PARALLEL_CHUNKS = 4
WRITING_CHUNKS = 2


async def run(
    database: Database, screening_id: int, *, chunk: int, progress: Progress = _no_progress, last_attempt: bool = True
) -> None:
    """Run (or resume) one screening to its end, calling `progress` (percent) after every committed chunk.

    What stops it is raised again for the job to record, after the screening says so: a cancel (`Cancelled`,
    raised by `progress`) or an error fails it (on the `last_attempt`; before that it waits queued for the next).
    A lost lease or a stopped worker leaves it as it is: another worker resumes it."""
    screening = await _start(database, screening_id)
    if screening is None:
        return
    in_flight: list[asyncio.Task] = []
    try:
        if database.dialect == "postgresql":
            # Fresh statistics first: without them (a newly loaded city) the planner picks nested loops over the
            # grouped subqueries and a chunk takes seconds instead of milliseconds. ANALYZE samples: it is cheap.
            async with database.sessionmaker() as session, session.begin():
                await session.execute(text("ANALYZE households, members, incomes, assets, enrolments"))
        depth = PARALLEL_CHUNKS if database.dialect == "postgresql" else 1
        turns = Turns(load=asyncio.Semaphore(1), write=asyncio.Semaphore(WRITING_CHUNKS))
        after, processed, total = (
            screening.last_household_id,
            screening.processed_households,
            screening.total_households,
        )

        async def committed(task: asyncio.Task) -> None:
            nonlocal processed
            processed += await task
            await progress(100 * processed // total if total else 100)

        while True:
            async with database.sessionmaker() as session:
                last, count = await next_chunk(session, screening, after, chunk)
            if not count:
                break
            before = in_flight[-1] if in_flight else None
            in_flight.append(asyncio.create_task(_chunk_job(database, screening, after, last, count, before, turns)))
            after = last
            if len(in_flight) >= depth:
                await committed(in_flight.pop(0))
        while in_flight:
            await committed(in_flight.pop(0))
    except (LeaseLost, asyncio.CancelledError):
        await _abandon(in_flight)
        raise  # another worker holds the job now, or this one is stopping: the screening is resumed as it is
    except Cancelled:
        await _abandon(in_flight)
        await _set(database, screening_id, "failed", CANCELLED)
        raise
    except Exception as exc:
        await _abandon(in_flight)
        log.exception("screening %s failed", screening_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        await _set(database, screening_id, "failed" if last_attempt else "queued", error)
        raise
    await _set(database, screening_id, "done")


async def _abandon(tasks: list[asyncio.Task]) -> None:
    """Cancel the chunks still in flight and wait until their transactions have rolled back."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
