"""A finished batch's result as CSV: one row per uploaded line, in order, read and written a block at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.placenames.batches.models import BatchLine
from services.placenames.parsing.parser import CITY, PARTS, PROVINCE

# The parts of an address below the city, in the parser's order (lane included): the columns a caller reads.
PART_COLUMNS = [part for part in PARTS if part not in (PROVINCE, CITY)]
RESULT_COLUMNS = ["line", "id", "input", "status", "code", "standard_address", "confidence", *PART_COLUMNS, "reasons"]
BLOCK = 5000


async def lines(session: AsyncSession, job_id: str, after: int, limit: int) -> list[BatchLine]:
    return list(
        await session.scalars(
            select(BatchLine)
            .where(BatchLine.job_id == job_id, BatchLine.line_no > after)
            .order_by(BatchLine.line_no)
            .limit(limit)
        )
    )


def row(line: BatchLine) -> list:
    parts = json.loads(line.parts) if line.parts else {}
    return [
        line.line_no,
        line.ref or "",
        line.text,
        line.status,
        line.code or "",
        line.full_name or "",
        "" if line.confidence is None else line.confidence,
        *(parts.get(k, "") for k in PART_COLUMNS),
        "; ".join(json.loads(line.reasons)) if line.reasons else "",
    ]


async def result_csv(sessionmaker: async_sessionmaker, job_id: str) -> AsyncIterator[bytes]:
    """The result in UTF-8, a block of lines per chunk; each block is read in its own short session, so no
    connection is held while the client downloads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    after = 0
    while True:
        async with sessionmaker() as read:
            block = await lines(read, job_id, after, BLOCK)
        if not block:
            break
        writer.writerows(row(line) for line in block)
        after = block[-1].line_no
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
