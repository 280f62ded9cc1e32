"""One job mechanism for the suite: jobs are rows in the service's own database, run by worker processes.

- An API process only enqueues: `enqueue` adds a row in the caller's own transaction, so a job exists
  exactly when the change that asked for it was committed.
- A worker (`python -m services.<name>.worker`, see `shared.worker`) claims one job at a time with a lease
  and renews the lease while the job runs. A job whose lease ran out (its worker died) is claimed again
  and resumed: handlers are written to pick up where their last committed step left off.
- A handler reports progress in percent; between steps it sees a cancel request and stops.
- A failed attempt is retried after a growing pause, up to the task's `max_attempts`; the last error is kept.
- A task marked `singleton` has at most one queued or running job: a unique index over the live jobs
  holds that on both databases, whatever the number of API processes and workers.
- A task with a `schedule` is enqueued once per slot (daily, monthly, every n minutes) by whichever worker
  comes first: a unique key on (task, slot) makes the others' inserts no-ops.

On PostgreSQL several workers share the queue (FOR UPDATE SKIP LOCKED); on SQLite, the embedded default,
every write transaction is serialised (BEGIN IMMEDIATE, see shared.db), which gives the same claims.
docs/jobs.md says why this is not a library.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import datetime as dt
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import JSON

from shared import clock
from shared.db import Database, UTCDateTime, conflict_insert, utcnow
from shared.errors import Conflict, NotFound

log = logging.getLogger("jobs")

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
LIVE = ("queued", "running")
MAX_ERROR_CHARS = 4000


def jobs_table(metadata: MetaData) -> Table:
    """Each service keeps its jobs in its own database, next to the rows they work on."""
    return Table(
        "jobs",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("task", String(80), nullable=False),
        Column("args", JSON, nullable=False),
        Column("status", String(16), nullable=False),
        Column("progress", Integer, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("max_attempts", Integer, nullable=False),
        Column("run_after", UTCDateTime(), nullable=False),
        Column("lease_until", UTCDateTime()),
        Column("worker", String(120)),
        Column("cancel_requested", Boolean, nullable=False),
        # The task's name while the job is live, for a singleton task: at most one live job per task.
        Column("singleton", String(80)),
        # "<task>@<slot start>" for a scheduled job: each slot is enqueued once.
        Column("slot", String(120), unique=True),
        Column("last_error", Text),
        Column("result", JSON),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("started_at", UTCDateTime()),
        Column("finished_at", UTCDateTime()),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_bounded"),
        CheckConstraint("attempts >= 0 AND max_attempts BETWEEN 1 AND 100", name="attempts_bounded"),
        Index("ix_jobs_claimable", "status", "run_after"),
        Index(
            "uq_jobs_live_singleton",
            "singleton",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
    )


# --- schedules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Every:
    """Every `minutes` minutes, on slots counted from midnight (Asia/Shanghai)."""

    minutes: int

    def slot(self, now: dt.datetime) -> dt.datetime:
        local = now.astimezone(clock.SHANGHAI)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        elapsed = int((local - midnight).total_seconds() // 60)
        return midnight + dt.timedelta(minutes=elapsed - elapsed % self.minutes)


@dataclass(frozen=True)
class Daily:
    """Once a day at `at` (Asia/Shanghai wall time)."""

    at: dt.time

    def slot(self, now: dt.datetime) -> dt.datetime:
        local = now.astimezone(clock.SHANGHAI)
        start = dt.datetime.combine(local.date(), self.at, tzinfo=clock.SHANGHAI)
        return start if start <= local else start - dt.timedelta(days=1)


@dataclass(frozen=True)
class Monthly:
    """Once a month on `day` (clamped to the month's last day) at `at` (Asia/Shanghai wall time)."""

    day: int
    at: dt.time

    def _start(self, year: int, month: int) -> dt.datetime:
        day = min(self.day, calendar.monthrange(year, month)[1])
        return dt.datetime.combine(dt.date(year, month, day), self.at, tzinfo=clock.SHANGHAI)

    def slot(self, now: dt.datetime) -> dt.datetime:
        local = now.astimezone(clock.SHANGHAI)
        start = self._start(local.year, local.month)
        if start <= local:
            return start
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        return self._start(year, month)


Schedule = Every | Daily | Monthly


# --- tasks ---------------------------------------------------------------------------------------------


class Cancelled(Exception):
    """Raised inside a handler at its next step once someone asked to cancel its job."""


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease ran out and another worker took it over)."""


@dataclass
class JobContext:
    """What a handler gets: its job, the database, and the way to report progress (and hear a cancel)."""

    job_id: int
    args: dict[str, Any]
    attempt: int
    database: Database
    runner: Worker

    async def progress(self, percent: int) -> None:
        """Record progress and renew the lease; raises Cancelled when the job was asked to stop."""
        await self.runner.renew(self.job_id, progress=max(0, min(100, int(percent))))


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Task:
    name: str
    handler: Handler
    max_attempts: int = 3
    singleton: bool = False
    schedule: Schedule | None = None
    args: dict[str, Any] = field(default_factory=dict)  # a scheduled job's arguments


class Tasks:
    """A service's task registry: `@tasks.task("name", ...)` on an `async def handler(ctx) -> dict | None`."""

    def __init__(self, table: Table):
        self.table = table
        self.by_name: dict[str, Task] = {}

    def task(
        self, name: str, *, max_attempts: int = 3, singleton: bool = False, schedule: Schedule | None = None
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if name in self.by_name:
                raise ValueError(f"task {name!r} is registered twice")
            self.by_name[name] = Task(name, handler, max_attempts, singleton, schedule)
            return handler

        return register

    def include(self, other: Tasks) -> None:
        """Take in the tasks of another registry over the same table (the notification outbox's, for one)."""
        if other.table is not self.table:
            raise ValueError("tasks of another jobs table")
        for name, task in other.by_name.items():
            if name in self.by_name:
                raise ValueError(f"task {name!r} is registered twice")
            self.by_name[name] = task

    def __getitem__(self, name: str) -> Task:
        return self.by_name[name]

    async def enqueue(
        self,
        session: AsyncSession,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        run_after: dt.datetime | None = None,
        slot: str | None = None,
    ) -> int | None:
        """Add a job in the caller's transaction; returns its id. For a singleton task with a live job,
        returns that job's id and adds nothing (None when that job ended in the meantime)."""
        task = self.by_name[name]
        now = utcnow()
        values = dict(
            task=name,
            args=args or {},
            status="queued",
            progress=0,
            attempts=0,
            max_attempts=task.max_attempts,
            run_after=run_after or now,
            cancel_requested=False,
            singleton=name if task.singleton else None,
            slot=slot,
            created_at=now,
        )
        dialect = session.get_bind().dialect.name
        insert = conflict_insert(self.table, dialect).values(**values)
        if task.singleton or slot is not None:
            insert = insert.on_conflict_do_nothing()
        job_id: int | None = await session.scalar(insert.returning(self.table.c.id))
        if job_id is not None:
            return job_id
        existing = (
            self.table.c.slot == slot
            if slot is not None
            else and_(self.table.c.singleton == name, self.table.c.status.in_(LIVE))
        )
        existing_id: int | None = await session.scalar(select(self.table.c.id).where(existing))
        return existing_id

    async def get(self, session: AsyncSession, job_id: int) -> dict[str, Any]:
        row = (await session.execute(select(self.table).where(self.table.c.id == job_id))).mappings().first()
        if row is None:
            raise NotFound("no job {job_id}", job_id=job_id)
        return dict(row)

    async def cancel(self, session: AsyncSession, job_id: int) -> dict[str, Any]:
        """A queued job is cancelled at once; a running one at its handler's next step."""
        jobs = self.table
        job = await self.get(session, job_id)
        if job["status"] not in LIVE:
            raise Conflict("job {job_id} is already {status}", job_id=job_id, status=job["status"])
        cancelled = await session.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "queued")
            .values(status="cancelled", finished_at=utcnow())
        )
        asked = await session.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(cancel_requested=True)
        )
        job = await self.get(session, job_id)
        # Neither matched: it finished after it was read, and nothing was cancelled.
        if sum(cast(CursorResult[Any], r).rowcount for r in (cancelled, asked)) == 0:
            raise Conflict("job {job_id} is already {status}", job_id=job_id, status=job["status"])
        return job


def backoff(attempt: int) -> dt.timedelta:
    """The pause before retry number `attempt` (1, 2, …): 10 s, 40 s, 160 s … at most an hour."""
    return dt.timedelta(seconds=min(3600, 10 * 4 ** (attempt - 1)))


class Worker:
    """Claims and runs one job at a time; `run` loops until stopped, `run_until_idle` serves tests."""

    def __init__(
        self,
        database: Database,
        tasks: Tasks,
        *,
        name: str,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        poll_s: float = 1.0,
    ):
        self.database, self.tasks, self.table = database, tasks, tasks.table
        self.name, self.lease, self.poll_s = name, lease, poll_s
        self._enqueued_slots: dict[str, dt.datetime] = {}  # task -> the last slot this worker enqueued
        self._stopped: dict[int, type[Exception]] = {}  # job -> why the heartbeat stopped its handler
        self._alive: Callable[[], None] = lambda: None

    async def schedule(self) -> None:
        """Enqueue the current slot of every scheduled task that has not been enqueued yet."""
        now = utcnow()
        for task in self.tasks.by_name.values():
            if task.schedule is None:
                continue
            start = task.schedule.slot(now)
            if self._enqueued_slots.get(task.name) == start:
                continue  # already done by this worker: no write transaction each poll
            async with self.database.sessionmaker() as session, session.begin():
                await self.tasks.enqueue(
                    session, task.name, dict(task.args, slot=start.isoformat()), slot=f"{task.name}@{start.isoformat()}"
                )
            self._enqueued_slots[task.name] = start

    async def claim(self) -> dict[str, Any] | None:
        jobs, now = self.table, utcnow()
        claimable = (
            select(jobs.c.id)
            .where(
                or_(
                    and_(jobs.c.status == "queued", jobs.c.run_after <= now),
                    and_(jobs.c.status == "running", jobs.c.lease_until < now),
                )
            )
            .order_by(jobs.c.run_after, jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self.database.sessionmaker() as session, session.begin():
            row = (
                (
                    await session.execute(
                        update(jobs)
                        .where(jobs.c.id == claimable)
                        .values(
                            status="running",
                            worker=self.name,
                            lease_until=now + self.lease,
                            attempts=jobs.c.attempts + 1,
                            started_at=func.coalesce(jobs.c.started_at, now),
                        )
                        .returning(*jobs.c)
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row is not None else None

    async def renew(self, job_id: int, *, progress: int | None = None) -> None:
        jobs = self.table
        values: dict[str, Any] = {"lease_until": utcnow() + self.lease}
        if progress is not None:
            values["progress"] = progress
        async with self.database.sessionmaker() as session, session.begin():
            row = (
                await session.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.worker == self.name, jobs.c.status == "running")
                    .values(**values)
                    .returning(jobs.c.cancel_requested)
                )
            ).first()
        if row is None:
            raise LeaseLost(f"job {job_id} is no longer held by {self.name}")
        if row.cancel_requested:
            raise Cancelled(f"job {job_id} was cancelled")

    async def _finish(self, job_id: int, **values: Any) -> None:
        jobs = self.table
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.worker == self.name, jobs.c.status == "running")
                .values(lease_until=None, **values)
            )

    async def _heartbeat(self, job_id: int, work: asyncio.Task[Any]) -> None:
        """Renew the lease while the handler awaits something long; stop the handler on a cancel or a lost lease."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self.renew(job_id)
                self._alive()
            except (Cancelled, LeaseLost) as reason:
                self._stopped[job_id] = type(reason)
                work.cancel()
                return

    async def run_one(self, job: dict[str, Any]) -> str:
        """Run a claimed job to its end; returns the status it ended in."""
        task = self.tasks.by_name.get(job["task"])
        if task is None:
            await self._finish(
                job["id"], status="failed", finished_at=utcnow(), last_error=f"no task {job['task']!r} in this worker"
            )
            return "failed"
        if job["attempts"] > job["max_attempts"]:  # its workers kept dying
            await self._finish(
                job["id"],
                status="failed",
                finished_at=utcnow(),
                last_error=(job["last_error"] or "") + "\nabandoned by its worker too many times",
            )
            return "failed"
        context = JobContext(job["id"], dict(job["args"]), job["attempts"], self.database, self)
        work = asyncio.ensure_future(task.handler(context))
        heartbeat = asyncio.ensure_future(self._heartbeat(job["id"], work))
        try:
            result = await work
        except asyncio.CancelledError:
            reason = self._stopped.pop(job["id"], None)
            if reason is None:
                raise  # the worker itself is being stopped: the lease runs out and another worker resumes
            if reason is LeaseLost:
                return "lost"
            await self._finish(job["id"], status="cancelled", finished_at=utcnow())
            return "cancelled"
        except Cancelled:
            await self._finish(job["id"], status="cancelled", finished_at=utcnow())
            return "cancelled"
        except LeaseLost:
            return "lost"
        except Exception:
            error = traceback.format_exc()[-MAX_ERROR_CHARS:]
            log.warning("job %s (%s) attempt %s failed", job["id"], job["task"], job["attempts"], exc_info=True)
            if job["attempts"] < job["max_attempts"]:
                await self._finish(
                    job["id"], status="queued", last_error=error, run_after=utcnow() + backoff(job["attempts"])
                )
                return "queued"
            await self._finish(job["id"], status="failed", finished_at=utcnow(), last_error=error)
            return "failed"
        finally:
            heartbeat.cancel()
        await self._finish(job["id"], status="succeeded", progress=100, finished_at=utcnow(), result=result)
        return "succeeded"

    async def run_until_idle(self, *, max_jobs: int = 1000) -> list[tuple[str, str]]:
        """Enqueue due schedules, then run jobs until none is due: (task, final status) of each. For tests
        and one-off runs (`python -m services.<name>.worker --once`)."""
        await self.schedule()
        ran: list[tuple[str, str]] = []
        while len(ran) < max_jobs and (job := await self.claim()) is not None:
            ran.append((job["task"], await self.run_one(job)))
        return ran

    async def run(self, stop: asyncio.Event, *, alive: Callable[[], None] = lambda: None) -> None:
        """The worker process's loop: schedules, then claim and run, pausing `poll_s` when nothing is due.
        `alive` is called at each turn and at each lease renewal (the liveness probe reads what it leaves)."""
        self._alive = alive
        while not stop.is_set():
            alive()
            try:
                await self.schedule()
                job = await self.claim()
            except Exception:  # the database is away: try again after a pause, never exit the loop
                log.warning("the job queue could not be read", exc_info=True)
                job = None
            if job is not None:
                await self.run_one(job)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
