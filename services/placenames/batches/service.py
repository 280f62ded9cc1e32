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

from services.placenames import gazetteer
from services.placenames.batches.models import MAX_LINES, BatchJob, BatchLine
from services.placenames.parsing.parser import parse
from services.placenames.parsing.schemas import MAX_TEXT
from services.placenames.parsing.service import match
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal

log = logging.getLogger("placenames.batches")

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 500
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


def split(text: str) -> list[dict]:
    """One dict per line: its number, the partner's id, the address text, and a reason when the line is bad.

    Each physical line is read on its own, so one broken line (an unclosed quote, a NUL) is reported and the
    others go on. Quoted fields spanning lines are not supported: each line is one address.
    """
    lines = text.splitlines()
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    address_col, id_col, start = 0, None, 0
    if lines:
        try:
            header = [c.strip().lower() for c in next(csv.reader([lines[0]]))]
        except csv.Error:
            header = []
        if HEADER_ADDRESS & set(header):
            address_col = next(i for i, c in enumerate(header) if c in HEADER_ADDRESS)
            id_col = next((i for i, c in enumerate(header) if c in HEADER_ID), None)
            start = 1
    rows = []
    for number, line in enumerate(lines[start:], start=start + 1):
        row = {"line_no": number, "ref": None, "text": line[:MAX_TEXT * 2], "reason": None}
        try:
            cells = next(csv.reader([line], strict=True)) if line.strip() else []
        except csv.Error as error:
            if id_col is not None:  # the partner's id still helps them find the line
                row["ref"] = (line.split(",")[id_col] if line.count(",") >= id_col else "")[:100] or None
            rows.append(row | {"reason": f"broken CSV line: {error}"})
            continue
        if id_col is not None and id_col < len(cells):
            row["ref"] = cells[id_col][:100]
        address = cells[address_col].strip() if address_col < len(cells) else ""
        if not address:
            row["reason"] = "no address on this line"
        elif len(address) > MAX_TEXT:
            row["reason"] = f"the address is longer than {MAX_TEXT} characters"
        else:
            row["text"] = address
        rows.append(row)
    return rows


async def create(session: AsyncSession, principal: Principal, body: bytes, encoding: str) -> BatchJob:
    if not body.strip():
        raise InvalidInput("body", "the file is empty")
    text, used = decode(body, encoding)
    rows = split(text)
    if not rows:
        raise InvalidInput("body", "the file has no lines after its header")
    if len(rows) > MAX_LINES:
        raise InvalidInput("body", f"{len(rows):,} lines; at most {MAX_LINES:,} per batch")
    bad = sum(1 for r in rows if r["reason"])
    job = BatchJob(id=uuid.uuid4().hex, owner=principal.subject, status="queued", encoding=used,
                   total_lines=len(rows), processed_lines=bad, matched_lines=0, bad_lines=bad, created_at=utcnow())
    session.add(job)
    await session.flush()
    values = [{"job_id": job.id, "line_no": r["line_no"], "ref": r["ref"], "text": r["text"],
               "status": "bad" if r["reason"] else "pending",
               "reasons": json.dumps([r["reason"]], ensure_ascii=False) if r["reason"] else None} for r in rows]
    for start in range(0, len(values), 5000):
        await session.execute(BatchLine.__table__.insert(), values[start:start + 5000])
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


async def _chunk(app, session: AsyncSession, job_id: str) -> bool:
    """Standardise the next chunk of pending lines; False when none was left (the job is then done)."""
    lines = list(await session.scalars(select(BatchLine).where(BatchLine.job_id == job_id,
                                                                BatchLine.status == "pending")
                                       .order_by(BatchLine.line_no).limit(CHUNK)))
    if not lines:
        await session.execute(update(BatchJob).where(BatchJob.id == job_id).values(
            status="done", finished_at=utcnow(), lease_until=None))
        return False
    gaz = await gazetteer.current(app, session)
    matched = 0
    for line in lines:
        result = await match(session, parse(gaz.dictionary, line.text), gaz.road_speller)
        best = result.match or (result.candidates[0] if result.candidates else None)
        line.status = "matched" if result.match else "ambiguous" if result.candidates else "unmatched"
        matched += result.match is not None
        line.code, line.full_name = (best.code, best.full_name) if best else (None, None)
        line.confidence = result.confidence
        line.parts = json.dumps({p.kind: p.value for p in result.parts}, ensure_ascii=False)
        line.reasons = json.dumps(best.reasons if best else result.reasons, ensure_ascii=False)
    await session.execute(update(BatchJob).where(BatchJob.id == job_id).values(
        processed_lines=BatchJob.processed_lines + len(lines), matched_lines=BatchJob.matched_lines + matched,
        lease_until=utcnow() + LEASE))
    return True


async def run(app, job_id: str) -> None:
    """The worker: claim the job, then one committed transaction per chunk until no line is pending."""
    sessionmaker = app.state.database.sessionmaker
    try:
        async with sessionmaker() as session:
            claimed = await _claim(session, job_id)
            await session.commit()
        if not claimed:
            return
        while True:
            async with sessionmaker() as session:
                more = await _chunk(app, session, job_id)
                await session.commit()
            if not more:
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


async def lines(session: AsyncSession, job_id: str, after: int, limit: int) -> list[BatchLine]:
    return list(await session.scalars(select(BatchLine).where(BatchLine.job_id == job_id, BatchLine.line_no > after)
                                      .order_by(BatchLine.line_no).limit(limit)))


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
