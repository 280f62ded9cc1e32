"""Batch standardisation: decode and split the upload (UTF-8 or GBK; a broken line is kept and reported),
store the job and its lines, and work through them in the background in chunks.

The worker holds the job by a lease (`lease_until`, renewed each chunk). A job whose lease ran out (its
process stopped) is taken up again by the next process that is asked about it, from the first line not yet
done: lines are done in the database, chunk by chunk, never twice.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import logging
import uuid

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.batches.models import MAX_LINES, BatchJob, BatchLine
from services.placenames.parsing import pool
from services.placenames.parsing.schemas import MAX_TEXT
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.schemas import CONTROL_CHARACTERS

log = logging.getLogger("placenames.batches")

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 500
INSERT_BLOCK = 1000
LEASE = dt.timedelta(seconds=60)
HEADER_ADDRESS = {"address", "地址", "text", "addr"}
HEADER_ID = {"id", "编号", "ref", "序号"}


def decode(body: bytes, encoding: str) -> tuple[str, str]:
    """The upload as text. `auto` tries UTF-8 (a BOM allowed) and then GBK (read as GB 18030, its superset)."""
    tries = {"auto": ["utf-8", "gbk"], "utf-8": ["utf-8"], "gbk": ["gbk"]}[encoding]
    for name in tries:
        try:
            return body.decode("utf-8-sig" if name == "utf-8" else "gb18030"), name
        except UnicodeDecodeError:
            continue
    raise InvalidInput("encoding", f"the file is not valid {' or '.join(t.upper() for t in tries)}",
                       location="query")


def columns(lines: list[str]) -> tuple[int, int | None, int]:
    """(address column, id column or None, index of the first data line), from the header when there is one."""
    if lines:
        try:
            header = [c.strip().lower() for c in next(csv.reader([lines[0]]))]
        except csv.Error:
            header = []
        if HEADER_ADDRESS & set(header):
            return (next(i for i, c in enumerate(header) if c in HEADER_ADDRESS),
                    next((i for i, c in enumerate(header) if c in HEADER_ID), None), 1)
    return 0, None, 0


def split_line(number: int, line: str, address_col: int, id_col: int | None) -> dict:
    """One line: its number, the partner's id, the address text, and a reason when the line is bad.

    Each physical line is read on its own, so one broken line (an unclosed quote, a NUL) is reported and the
    others go on. Quoted fields spanning lines are not supported: each line is one address.
    """
    # No address holds a control character, and PostgreSQL cannot store a NUL: each is kept as U+FFFD, so the
    # partner still finds the line, and the line comes back marked.
    line, controls = CONTROL_CHARACTERS.subn("\ufffd", line)
    row = {"line_no": number, "ref": None, "text": line[:MAX_TEXT * 2], "reason": None}
    try:
        cells = next(csv.reader([line], strict=True)) if line.strip() else []
    except csv.Error as error:
        if id_col is not None:  # the partner's id still helps them find the line
            row["ref"] = (line.split(",")[id_col] if line.count(",") >= id_col else "")[:100] or None
        return row | {"reason": f"broken CSV line: {error}"}
    if id_col is not None and id_col < len(cells):
        row["ref"] = cells[id_col][:100]
    address = cells[address_col].strip() if address_col < len(cells) else ""
    if controls:
        row["reason"] = "a control character on this line"
    elif not address:
        row["reason"] = "no address on this line"
    elif len(address) > MAX_TEXT:
        row["reason"] = f"the address is longer than {MAX_TEXT} characters"
    else:
        row["text"] = address
    return row


async def create(session: AsyncSession, principal: Principal, body: bytes, encoding: str) -> BatchJob:
    if not body.strip():
        raise InvalidInput("body", "the file is empty")
    text, used = decode(body, encoding)
    lines = text.splitlines()
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    address_col, id_col, start = columns(lines)
    count = len(lines) - start
    if not count:
        raise InvalidInput("body", "the file has no lines after its header")
    if count > MAX_LINES:
        raise InvalidInput("body", f"{count:,} lines; at most {MAX_LINES:,} per batch")
    job = BatchJob(id=uuid.uuid4().hex, owner=principal.subject, status="queued", encoding=used,
                   total_lines=count, processed_lines=0, matched_lines=0, bad_lines=0, created_at=utcnow())
    session.add(job)
    await session.flush()
    # Read and stored a block of lines at a time: 100,000 lines read at once held the event loop for about half
    # a second (CSV reading is pure Python); between blocks, the database call lets other requests in.
    bad = 0
    for at in range(start, len(lines), INSERT_BLOCK):
        rows = [split_line(n, line, address_col, id_col)
                for n, line in enumerate(lines[at:at + INSERT_BLOCK], start=at + 1)]
        bad += sum(1 for r in rows if r["reason"])
        await session.execute(BatchLine.__table__.insert(), [
            {"job_id": job.id, "line_no": r["line_no"], "ref": r["ref"], "text": r["text"],
             "status": "bad" if r["reason"] else "pending",
             "reasons": json.dumps([r["reason"]], ensure_ascii=False) if r["reason"] else None} for r in rows])
    job.processed_lines = job.bad_lines = bad
    return job


async def get(session: AsyncSession, principal: Principal, job_id: str) -> BatchJob:
    job = await session.get(BatchJob, job_id)
    if job is None or job.owner != principal.subject:
        raise NotFound(f"no batch {job_id} of yours")  # another partner's job is not even acknowledged
    return job


def needs_worker(job: BatchJob) -> bool:
    return job.status != "done" and (job.lease_until is None or job.lease_until < utcnow())


async def _claim(session: AsyncSession, job_id: str) -> bool:
    now = utcnow()
    result = await session.execute(update(BatchJob).where(
        BatchJob.id == job_id, BatchJob.status != "done",
        or_(BatchJob.lease_until.is_(None), BatchJob.lease_until < now)).values(
        status="running", lease_until=now + LEASE).execution_options(synchronize_session=False))
    return result.rowcount == 1


async def _chunk(app, job_id: str) -> bool:
    """Standardise the next chunk of pending lines; False when none was left (the job is then done).

    Read, then written, in two short transactions: none is open while the lines are parsed in the worker
    processes of /parses (parsing/pool.py), so no connection is held meanwhile (and on SQLite no lock)."""
    sessionmaker = app.state.database.sessionmaker
    async with sessionmaker() as session:
        lines = (await session.execute(select(BatchLine.id, BatchLine.text).where(
            BatchLine.job_id == job_id, BatchLine.status == "pending").order_by(BatchLine.line_no).limit(CHUNK))).all()
        if not lines:
            await session.execute(update(BatchJob).where(BatchJob.id == job_id).values(
                status="done", finished_at=utcnow(), lease_until=None))
            await session.commit()
            return False
    results = await pool.batch_lines(app, [text for _, text in lines])
    keys = ("status", "code", "full_name", "confidence", "parts", "reasons")
    async with sessionmaker() as session:
        await session.execute(update(BatchLine), [{"id": line_id, **dict(zip(keys, result))}
                                                  for (line_id, _), result in zip(lines, results, strict=True)])
        await session.execute(update(BatchJob).where(BatchJob.id == job_id).values(
            processed_lines=BatchJob.processed_lines + len(lines),
            matched_lines=BatchJob.matched_lines + sum(1 for r in results if r[0] == "matched"),
            lease_until=utcnow() + LEASE))
        await session.commit()
    return True


async def run(app, job_id: str) -> None:
    """The worker: claim the job, then chunk after chunk until no line is pending."""
    sessionmaker = app.state.database.sessionmaker
    try:
        async with sessionmaker() as session:
            claimed = await _claim(session, job_id)
            await session.commit()
        if not claimed:
            return
        while True:
            if not await _chunk(app, job_id):
                return
            await asyncio.sleep(0)  # let requests in between chunks
    except Exception:
        # The lease runs out and the next status request starts a new worker from the first pending line.
        log.exception("batch %s stopped", job_id)


def start(app, job_id: str) -> None:
    """Run the worker in this process unless one already runs here for this job."""
    tasks: dict = getattr(app.state, "batch_tasks", None) or {}
    app.state.batch_tasks = tasks
    if job_id in tasks and not tasks[job_id].done():
        return
    tasks[job_id] = asyncio.get_running_loop().create_task(run(app, job_id))


def require_done(job: BatchJob) -> None:
    if job.status != "done":
        percent = 100 * job.processed_lines // max(job.total_lines, 1)
        raise Conflict(f"batch {job.id} is still {job.status} ({percent}%); poll it until done",
                       resource=f"batch-standardizations/{job.id}", headers={"Retry-After": "2"})


async def resume_abandoned(app) -> None:
    """At startup: restart the workers of jobs a stopped process left behind (their lease has run out)."""
    async with app.state.database.sessionmaker() as session:
        job_ids = list(await session.scalars(select(BatchJob.id).where(
            BatchJob.status != "done", or_(BatchJob.lease_until.is_(None), BatchJob.lease_until < utcnow()))))
    for job_id in job_ids:
        start(app, job_id)
    if job_ids:
        log.info("resumed %d batch job(s) left by a stopped process", len(job_ids))


async def stop_workers(app) -> None:
    """At shutdown: stop this process's workers; their leases run out and the next process resumes them."""
    tasks = getattr(app.state, "batch_tasks", None) or {}
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
