"""Batch standardisation: decode and split the upload (UTF-8 or GBK; a broken line is kept and reported),
store the job and its lines; the `batch.standardise` job (jobs.py) works through them in chunks.
"""

from __future__ import annotations

import csv
import json
import re
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames import gazetteer
from services.placenames.batches.models import MAX_LINES, BatchJob, BatchLine
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing import service as parsing
from services.placenames.parsing.parser import parse
from services.placenames.parsing.schemas import MAX_TEXT
from shared.db import Database, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.schemas import CONTROL_CHARACTERS

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 500
INSERT_BLOCK = 1000
HEADER_ADDRESS = {"address", "地址", "text", "addr"}
HEADER_ID = {"id", "编号", "ref", "序号"}
# A line of the file ends with CR LF, LF or CR, and nothing else: str.splitlines also breaks at a form feed, a
# vertical tab, U+0085 or U+2028 inside an address, which cut it in two and numbered every later line one on.
LINE_END = re.compile("\r\n|\r|\n")


def decode(body: bytes, encoding: str) -> tuple[str, str]:
    """The upload as text. `auto` tries UTF-8 (a BOM allowed) and then GBK (read as GB 18030, its superset)."""
    tries = {"auto": ["utf-8", "gbk"], "utf-8": ["utf-8"], "gbk": ["gbk"]}[encoding]
    for name in tries:
        try:
            return body.decode("utf-8-sig" if name == "utf-8" else "gb18030"), name
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        "encoding",
        "the file is not valid {encodings}",
        location="query",
        encodings=" or ".join(t.upper() for t in tries),
    )


def columns(lines: list[str]) -> tuple[int, int | None, int]:
    """(address column, id column or None, index of the first data line), from the header when there is one."""
    if lines:
        try:
            header = [c.strip().lower() for c in next(csv.reader([lines[0]]))]
        except csv.Error:
            header = []
        if HEADER_ADDRESS & set(header):
            return (
                next(i for i, c in enumerate(header) if c in HEADER_ADDRESS),
                next((i for i, c in enumerate(header) if c in HEADER_ID), None),
                1,
            )
    return 0, None, 0


def split_line(number: int, line: str, address_col: int, id_col: int | None) -> dict:
    """One line: its number, the partner's id, the address text, and a reason when the line is bad.

    Each physical line is read on its own, so one broken line (an unclosed quote, a NUL) is reported and the
    others go on. Quoted fields spanning lines are not supported: each line is one address.
    """
    # No address holds a control character, and PostgreSQL cannot store a NUL: each is kept as U+FFFD, so the
    # partner still finds the line, and the line comes back marked.
    line, controls = CONTROL_CHARACTERS.subn("\ufffd", line)
    row = {"line_no": number, "ref": None, "text": line[: MAX_TEXT * 2], "reason": None}
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
    lines = LINE_END.split(text)
    if lines and not lines[-1]:  # the file's last line end
        lines.pop()
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    address_col, id_col, start = columns(lines)
    count = len(lines) - start
    if not count:
        raise InvalidInput("body", "the file has no lines after its header")
    if count > MAX_LINES:
        raise InvalidInput(
            "body",
            "{count} lines; at most {max_lines} per batch",
            count=format(count, ","),
            max_lines=format(MAX_LINES, ","),
        )
    job = BatchJob(
        id=uuid.uuid4().hex,
        owner=principal.subject,
        status="queued",
        encoding=used,
        total_lines=count,
        processed_lines=0,
        matched_lines=0,
        bad_lines=0,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    # Read and stored a block of lines at a time: a whole upload read at once would hold the event loop (CSV
    # reading is pure Python); between blocks, the database call lets other requests in.
    bad = 0
    for at in range(start, len(lines), INSERT_BLOCK):
        rows = [
            split_line(n, line, address_col, id_col)
            for n, line in enumerate(lines[at : at + INSERT_BLOCK], start=at + 1)
        ]
        bad += sum(1 for r in rows if r["reason"])
        await session.execute(
            BatchLine.__table__.insert(),
            [
                {
                    "job_id": job.id,
                    "line_no": r["line_no"],
                    "ref": r["ref"],
                    "text": r["text"],
                    "status": "bad" if r["reason"] else "pending",
                    "reasons": json.dumps([r["reason"]], ensure_ascii=False) if r["reason"] else None,
                }
                for r in rows
            ],
        )
    job.processed_lines = job.bad_lines = bad
    return job


async def get(session: AsyncSession, principal: Principal, job_id: str) -> BatchJob:
    job = await session.get(BatchJob, job_id)
    if job is None or job.owner != principal.subject:
        raise NotFound("no batch {job_id} of yours", job_id=job_id)  # another partner's job is not even acknowledged
    return job


async def standardise_next(database: Database, job_id: str) -> int | None:
    """Standardise the job's next chunk of pending lines; returns the percent done, or None when no line was
    left (the job is then done). Lines are done in the database chunk by chunk, so a worker that takes the
    job over starts again from the first pending line and no line is done twice.

    Read, then written, in two short transactions: none is open while the lines are parsed, so no connection
    is held meanwhile (and on SQLite no lock). They are parsed here, in the job worker's process: it answers
    no requests, so unlike the API process (parsing/pool.py) it has no event loop to keep free."""
    async with database.sessionmaker() as session, session.begin():
        lines = (
            await session.execute(
                select(BatchLine.id, BatchLine.text)
                .where(BatchLine.job_id == job_id, BatchLine.status == "pending")
                .order_by(BatchLine.line_no)
                .limit(CHUNK)
            )
        ).all()
        if not lines:
            await session.execute(
                update(BatchJob).where(BatchJob.id == job_id).values(status="done", finished_at=utcnow())
            )
            return None
        gaz = await gazetteer.latest(session)
    results = await _standardised(database, gaz, [text for _, text in lines])
    keys = ("status", "code", "full_name", "confidence", "parts", "reasons")
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(BatchLine),
            [
                {"id": line_id, **dict(zip(keys, result, strict=False))}
                for (line_id, _), result in zip(lines, results, strict=True)
            ],
        )
        job = (
            await session.execute(
                update(BatchJob)
                .where(BatchJob.id == job_id)
                .values(
                    status="running",
                    processed_lines=BatchJob.processed_lines + len(lines),
                    matched_lines=BatchJob.matched_lines + sum(1 for r in results if r[0] == "matched"),
                )
                .returning(BatchJob.processed_lines, BatchJob.total_lines)
            )
        ).one()
    return 100 * job.processed_lines // max(job.total_lines, 1)


async def _standardised(database: Database, gaz: Gazetteer, texts: list[str]) -> list[tuple]:
    """Per text: (status, code, full name, confidence, parts as JSON, reasons as JSON), a line's values."""
    plans = [parsing.reading(parse(gaz.dictionary, text), gaz.road_speller) for text in texts]
    async with database.sessionmaker() as session:
        rows = await parsing.fetch_many(session, [plan.query for plan in plans])
    values = []
    for plan, found in zip(plans, rows, strict=True):
        result = parsing.decide(plan, found)
        best = result["match"] or (result["candidates"][0] if result["candidates"] else None)
        values.append(
            (
                "matched" if result["match"] else "ambiguous" if result["candidates"] else "unmatched",
                best["code"] if best else None,
                best["full_name"] if best else None,
                result["confidence"],
                json.dumps({p["kind"]: p["value"] for p in result["parts"]}, ensure_ascii=False),
                json.dumps(best["reasons"] if best else result["reasons"], ensure_ascii=False),
            )
        )
    return values


def require_done(job: BatchJob) -> None:
    if job.status != "done":
        percent = 100 * job.processed_lines // max(job.total_lines, 1)
        raise Conflict(
            "batch {job_id} is still {job_status} ({percent}%); poll it until done",
            resource=f"batch-standardizations/{job.id}",
            headers={"Retry-After": "2"},
            job_id=job.id,
            job_status=job.status,
            percent=percent,
        )
