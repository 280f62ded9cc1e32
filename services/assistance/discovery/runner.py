"""Running a screening in the worker processes: its job `screening.run` and helper jobs `screening.chunks`
(services/assistance/jobs.py) share its chunks, so several workers on PostgreSQL screen one city together.

- When the screening's job starts (`run`), it writes the screening's chunks (`ScreeningChunk`: ranges of the
  area's household ids, `screenings.chunk_ranges`) and enqueues helper jobs in the same transaction: any worker
  process that is free picks one up and joins (`join`). Nothing else changes in the job mechanism
  (shared/jobs.py): the helpers are ordinary jobs, and one worker alone runs them after the screening's own job,
  when they find nothing left to do.
- Each job claims chunks for a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never claim the same
  one; SQLite has one writer, and one worker does the chunks in order). A chunk commits its leads, marks itself
  done and adds to the screening's counts in one transaction. A chunk whose lease ran out while it was still
  running (its worker died) is claimed again by another; the worker that held it can no longer mark it done, so
  its transaction rolls back, and the unique key on leads per screening, household, programme and person holds
  whatever happens.
- The screening is `done` exactly when its last chunk is: the transaction that marks a chunk done marks the
  screening done too when no chunk is left (see `_run_claimed` for why that is race-free).
- A job that finds no chunk to claim while others still run theirs waits for them (a dead worker's chunk is its
  to take over once the lease runs out), so the screening's own job ends when the screening does.
- A cancel of the screening's job stops every part: no job claims a chunk of a screening that is no longer
  running or whose job was asked to stop, and a chunk in flight when its screening stopped rolls back. The
  screening ends `failed` however its job hears the cancel: at a chunk's progress, when its lanes find nothing
  left to claim, or through the worker's renewal of the lease, which stops the job mid-chunk.
- A failed chunk is given back at once. The screening's job records a failure on the screening (retried from
  the chunks left until its last attempt; the screening `failed` after it); a helper's failure is its own job's
  (retried by the job mechanism), and the screening's job takes over the chunk meanwhile.

Within one job, several chunks are in flight at once on PostgreSQL (`in_flight`, the setting
ASSISTANCE_SCREENING_CHUNKS_IN_FLIGHT), taking turns at decrypting and writing (`screenings.Turns`): one worker alone
keeps both of a small machine's cores busy.
docs/jobs.md and docs/scaling.md tell how this grows to more machines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Row, and_, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.database import JOBS
from services.assistance.discovery.models import Screening, ScreeningChunk
from services.assistance.discovery.screenings import CANCELLED, LIVE, Turns, chunk_ranges, run_chunk
from shared.db import Database, utcnow
from shared.jobs import Cancelled, LeaseLost

log = logging.getLogger("assistance.screening")
MAX_ATTEMPTS = 3  # the job's: a failed attempt is retried, with the chunks left, until the third

# Chunks in flight at once in one job on PostgreSQL (`in_flight`), each on its own connection and in its own
# transaction: while the database writes the leads of up to WRITING_CHUNKS of them (about one per core the database
# has for it), the next chunk's incomes are read and decrypted in this process. SQLite has one writer: one at a time.
WRITING_CHUNKS = 2
# How often a job with no chunk left to claim looks whether the others' are done (or one's lease ran out).
WAIT_S = 1.0

CHUNKS = ScreeningChunk.__table__
SCREENINGS = Screening.__table__

Progress = Callable[[int], Awaitable[None]]
OnStart = Callable[[AsyncSession], Awaitable[None]]


async def _no_progress(_percent: int) -> None:
    pass


async def _nothing(_session: AsyncSession) -> None:
    pass


@dataclass(frozen=True)
class Share:
    """Who holds the chunks a job claims, and for how long: a name of its own per job attempt (a worker process
    runs one job at a time, but a job taken over runs again under another attempt) and the worker's lease."""

    holder: str
    lease: dt.timedelta = dt.timedelta(seconds=60)


class _Stopped(Exception):
    """The screening stopped (cancelled, failed or done) while a chunk was in flight: the chunk rolls back."""


class _Lost(Exception):
    """Another job took this chunk over (its lease had run out): this job's work on it rolls back."""


def _still_running(screening_id: int):
    """The screening runs, and its job (if any) was neither asked to stop nor ended."""
    stopped_job = exists().where(
        JOBS.c.id == SCREENINGS.c.job_id,
        or_(JOBS.c.cancel_requested.is_(True), JOBS.c.status.in_(("cancelled", "failed"))),
    )
    return exists().where(SCREENINGS.c.id == screening_id, SCREENINGS.c.state == "running", ~stopped_job)


async def _start(database: Database, screening_id: int, chunk: int, on_start: OnStart) -> Screening | None:
    """Mark the screening running, one more attempt, and write its chunks the first time; `on_start` runs in the
    same transaction (the helper jobs). None when it has ended already (its job's worker died after finishing
    it)."""
    async with database.sessionmaker() as session, session.begin():
        started = await session.execute(
            update(Screening)
            .where(Screening.id == screening_id, Screening.state.in_(LIVE))
            .values(state="running", attempts=Screening.attempts + 1, error=None)
            .execution_options(synchronize_session=False)
        )
        if started.rowcount != 1:
            return None
        screening = await session.get(Screening, screening_id)
        assert screening is not None
        if not await session.scalar(select(exists().where(CHUNKS.c.screening_id == screening_id))):
            # A screening begun before the chunk table resumes after its checkpoint (last_household_id).
            ranges = await chunk_ranges(session, screening, screening.last_household_id, chunk)
            if ranges:
                await session.execute(
                    insert(CHUNKS),
                    [
                        dict(screening_id=screening_id, after_id=a, last_id=b, households=n, state="queued", claims=0)
                        for a, b, n in ranges
                    ],
                )
            # What the chunks cover, from what they found: households removed since the screening was asked for
            # would otherwise leave its progress short of 100 % for ever.
            screening.total_households = screening.processed_households + sum(n for _, _, n in ranges)
        await on_start(session)
    return screening


async def _set(database: Database, screening_id: int, state: str, error: str | None = None) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Screening)
            .where(Screening.id == screening_id, Screening.state != "done")
            .values(state=state, error=error, finished_at=utcnow() if state in ("done", "failed") else None)
            .execution_options(synchronize_session=False)
        )


async def _fail_if_cancelled(database: Database, screening_id: int) -> None:
    asked = exists().where(JOBS.c.id == SCREENINGS.c.job_id, JOBS.c.cancel_requested.is_(True))
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(SCREENINGS)
            .where(SCREENINGS.c.id == screening_id, SCREENINGS.c.state.in_(LIVE), asked)
            .values(state="failed", error=CANCELLED, finished_at=utcnow())
        )


async def _done_if_no_chunk_left(session: AsyncSession, screening_id: int) -> None:
    left = exists().where(CHUNKS.c.screening_id == screening_id, CHUNKS.c.state != "done")
    await session.execute(
        update(SCREENINGS)
        .where(SCREENINGS.c.id == screening_id, SCREENINGS.c.state == "running", ~left)
        .values(state="done", error=None, finished_at=utcnow())
    )


async def _claim(database: Database, screening_id: int, share: Share) -> Row | None:
    """The next chunk nobody holds (never claimed, or its holder's lease ran out), claimed for this job."""
    now = utcnow()
    claimable = (
        select(CHUNKS.c.id)
        .where(
            CHUNKS.c.screening_id == screening_id,
            or_(CHUNKS.c.state == "queued", and_(CHUNKS.c.state == "running", CHUNKS.c.lease_until < now)),
        )
        .order_by(CHUNKS.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with database.sessionmaker() as session, session.begin():
        return (
            await session.execute(
                update(CHUNKS)
                .where(CHUNKS.c.id == claimable, _still_running(screening_id))
                .values(
                    state="running", claimed_by=share.holder, lease_until=now + share.lease, claims=CHUNKS.c.claims + 1
                )
                .returning(CHUNKS.c.id, CHUNKS.c.after_id, CHUNKS.c.last_id, CHUNKS.c.households)
            )
        ).first()


async def _left(database: Database, screening_id: int) -> int:
    """Chunks not done yet, 0 as well when the screening no longer runs (nothing more for this job to do)."""
    async with database.sessionmaker() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(CHUNKS)
                .where(CHUNKS.c.screening_id == screening_id, CHUNKS.c.state != "done", _still_running(screening_id))
            )
            or 0
        )


async def _give_back(database: Database, chunk_id: int, share: Share) -> None:
    """A chunk that failed is claimable again at once (not after its lease)."""
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(CHUNKS)
            .where(CHUNKS.c.id == chunk_id, CHUNKS.c.claimed_by == share.holder, CHUNKS.c.state == "running")
            .values(state="queued", lease_until=None)
        )


async def _run_claimed(database: Database, screening: Screening, chunk: Row, share: Share, turns: Turns) -> int:
    """Screen a claimed chunk and commit its leads with its done mark and the screening's counts; returns the
    screening's progress in percent."""
    screening_id = screening.id
    async with database.sessionmaker() as session, session.begin():
        written = await run_chunk(session, screening, chunk.after_id, chunk.last_id, turns=turns)
        marked = await session.execute(
            update(CHUNKS)
            .where(CHUNKS.c.id == chunk.id, CHUNKS.c.claimed_by == share.holder, CHUNKS.c.state == "running")
            .values(state="done", leads=written, lease_until=None, done_at=utcnow())
        )
        if marked.rowcount != 1:
            raise _Lost(f"chunk {chunk.id} was taken over")
        counted = (
            await session.execute(
                update(SCREENINGS)
                .where(SCREENINGS.c.id == screening_id, SCREENINGS.c.state == "running")
                .values(
                    processed_households=SCREENINGS.c.processed_households + chunk.households,
                    leads_count=SCREENINGS.c.leads_count + written,
                )
                .returning(SCREENINGS.c.processed_households, SCREENINGS.c.total_households)
            )
        ).first()
        if counted is None:
            raise _Stopped(f"screening {screening_id} stopped")
        # The last chunk marks the screening done, in a statement of its own after the one above. That one locks
        # the screening's row until this transaction ends, so the chunks' transactions pass it one at a time; on
        # PostgreSQL (read committed) this statement then sees every chunk done by the transactions that passed
        # before. Of two workers finishing the last two chunks, the second to pass sees both done: exactly one
        # marks it, never none. (A condition inside the statement above would be read from before its wait.)
        await _done_if_no_chunk_left(session, screening_id)
    processed, total = counted
    return 100 * processed // total if total else 100


async def _share(database: Database, screening_id: int, share: Share, progress: Progress, in_flight: int) -> int:
    """Claim and screen the screening's chunks until none is left, then wait for those others hold; returns how
    many this job did. Raises what stops it: a cancel (`progress`), a lost lease, an error of a chunk."""
    async with database.sessionmaker() as session:
        screening = await session.get(Screening, screening_id)
    if screening is None:
        return 0
    depth = in_flight if database.dialect == "postgresql" else 1
    turns = Turns(load=asyncio.Semaphore(1), write=asyncio.Semaphore(WRITING_CHUNKS))

    async def lane() -> int:
        done = 0
        while True:
            chunk = await _claim(database, screening_id, share)
            if chunk is None:
                if not await _left(database, screening_id):
                    return done
                await progress(-1)  # still here (the lease), and still wanted (a cancel)
                await asyncio.sleep(WAIT_S)
                continue
            try:
                percent = await _run_claimed(database, screening, chunk, share, turns)
            except _Lost:
                continue
            except _Stopped:
                return done
            except Exception:
                await _give_back(database, chunk.id, share)
                raise
            done += 1
            await progress(percent)

    lanes = [asyncio.create_task(lane()) for _ in range(depth)]
    try:
        return sum(await asyncio.gather(*lanes))
    except Exception:
        await _stop(lanes)
        # A chunk failed: the chunks the other lanes had claimed (one may have taken the failed chunk again the
        # moment it was given back) are claimable again at once, not after their lease. Not on a kill (a
        # CancelledError): then the lease runs out, as for a worker that died.
        await _give_back_all(database, screening_id, share)
        raise
    finally:
        await _stop(lanes)


async def _stop(lanes: list[asyncio.Task[int]]) -> None:
    for task in lanes:
        task.cancel()
    await asyncio.gather(*lanes, return_exceptions=True)  # their transactions rolled back


async def _give_back_all(database: Database, screening_id: int, share: Share) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(CHUNKS)
            .where(
                CHUNKS.c.screening_id == screening_id,
                CHUNKS.c.claimed_by == share.holder,
                CHUNKS.c.state == "running",
            )
            .values(state="queued", lease_until=None)
        )


async def run(
    database: Database,
    screening_id: int,
    *,
    chunk: int,
    in_flight: int,
    share: Share = Share("in-process"),
    progress: Progress = _no_progress,
    last_attempt: bool = True,
    on_start: OnStart = _nothing,
) -> None:
    """The screening's own job: start (or resume) the screening, write its chunks and `on_start` (its helper
    jobs) the first time, and share its chunks until it has ended, calling `progress` (percent, -1 for "no
    change") as they are done.

    What stops it is raised again for the job to record, after the screening says so: a cancel (`Cancelled`,
    raised by `progress`) or an error fails it (on the `last_attempt`; before that it waits queued for the next).
    A lost lease or a stopped worker leaves it as it is: another worker resumes it."""
    screening = await _start(database, screening_id, chunk, on_start)
    if screening is None:
        return
    try:
        if database.dialect == "postgresql":
            # Fresh statistics first: without them (a newly loaded city) the planner picks nested loops over the
            # grouped subqueries and a chunk takes seconds instead of milliseconds. ANALYZE samples: it is cheap.
            async with database.sessionmaker() as session, session.begin():
                await session.execute(text("ANALYZE households, members, incomes, assets, enrolments"))
        report = _percent_only(progress)
        await _share(database, screening_id, share, report, in_flight)
        # Its lanes also end when a cancel stops the claims before any of them heard it: hear it here.
        await report(-1)
    except LeaseLost:
        raise  # another worker holds the job now: the screening is resumed as it is
    except asyncio.CancelledError:
        # The worker is stopping (the screening is resumed as it is), or its renewal of the lease heard a cancel
        # and stopped this handler mid-step, before it could say so on the screening: then it says so now.
        await asyncio.shield(_fail_if_cancelled(database, screening_id))
        raise
    except Cancelled:
        await _set(database, screening_id, "failed", CANCELLED)
        raise
    except Exception as exc:
        log.exception("screening %s failed", screening_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        await _set(database, screening_id, "failed" if last_attempt else "queued", error)
        raise
    async with database.sessionmaker() as session, session.begin():
        await _done_if_no_chunk_left(session, screening_id)  # an area without households has no chunk to do it


async def join(
    database: Database, screening_id: int, *, in_flight: int, share: Share, progress: Progress = _no_progress
) -> int:
    """A helper job: share the chunks of a running screening until it has ended; returns how many this job did.
    A screening not (or no longer) running needs no help: 0."""
    return await _share(database, screening_id, share, _percent_only(progress), in_flight)


def _percent_only(progress: Progress) -> Progress:
    """`progress` for the job, where -1 only renews its lease and hears a cancel (the last percent stays)."""
    last = 0

    async def report(percent: int) -> None:
        nonlocal last
        last = max(last, percent)
        await progress(last)

    return report
