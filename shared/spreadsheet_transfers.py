"""Spreadsheet imports and exports of a service: the uploads and results kept in its database, the two jobs that
work on them, and the routes staff call. Each service declares what it imports (`Importer`) and exports
(`Exporter`); everything else is here, once.

Imports (`POST /spreadsheet-imports`, multipart): the file is stored in the `spreadsheets` table in the request's
own transaction, with the job that reads it. The worker then
1. checks every row (the service's request schema, then its rules beyond the schema, and the same person twice in
   the file), listing the problems by row and column;
2. when the file is clean, or the caller asked for the clean rows (`clean_rows_only`), creates the rows a chunk at
   a time through the service's own create function, skipping the ones already recorded (the same ID number);
   each chunk commits with the row it reached, so a job taken over from a dead worker goes on from there.
A file with problems and no `clean_rows_only` is `rejected`: nothing of it is imported. Idempotent by content:
the same bytes sent again for the same kind, mode and area are the same import (a unique key on the content's
SHA-256), and rows already present are not created twice. An import whose job was cancelled or gave up is taken up
again, from its resume point, when its file is sent again.

Exports (`POST /spreadsheet-exports`): the rows of a list the caller may see, written to .xlsx a chunk at a time
by the worker and stored; `GET …/{id}/file` downloads it once `ready`. Personal data is masked unless the caller
holds the service's PII scope and states a purpose: then every person in the file gets an audit record
(`pii_reads`), written in the same transaction as the file.

Only the caller who asked sees an import or export and downloads its file.
"""

# No `from __future__ import annotations`: the routes' parameters use names local to `router()`.

import asyncio
import datetime as dt
import itertools
import logging
import pickle
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import JSON

from shared import clock
from shared.addresses import STANDARDISE_TASK, AddressIn, AddressValues, pending_address
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import RowId, Session, UTCDateTime, conflict_insert, utcnow
from shared.errors import Conflict, DomainError, FieldProblem, Forbidden, InvalidInput, NotFound, problem_responses
from shared.geo import check_coordinates
from shared.identity import CurrentPrincipal, Principal
from shared.jobs import JobContext, Tasks
from shared.request_id import current_request_id
from shared.schemas import CONTROL_CHARACTERS, Schema
from shared.spreadsheets import (
    MAX_PROBLEMS_LISTED,
    MAX_UPLOAD_BYTES,
    CheckedRow,
    Layout,
    Problem,
    Sheet,
    SpreadsheetRefused,
    XlsxWriter,
    check_rows,
    check_zip,
    content_hash,
    open_sheet,
    place,
    sniff,
)
from shared.uploads import PayloadTooLarge

log = logging.getLogger("shared.spreadsheets")

TABLE = "spreadsheets"
CHUNK = 500  # rows per transaction: short enough to let the API's writes in between on SQLite
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ImportStatus = Literal["queued", "checking", "importing", "imported", "rejected", "failed"]
ExportStatus = Literal["queued", "exporting", "ready", "failed"]
STATUSES = ("queued", "checking", "importing", "imported", "rejected", "exporting", "ready", "failed")
FINAL = ("imported", "rejected", "ready", "failed")


def spreadsheets_table(metadata: MetaData) -> Table:
    """Uploads to import and exports to download, with their outcome, in the service's own database."""
    return Table(
        TABLE,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("direction", String(6), nullable=False),
        Column("kind", String(40), nullable=False, comment="what the rows are: elders, households, …"),
        Column(
            "mode", String(16), nullable=False, comment="imports: all_or_nothing | clean_rows; exports: masked | clear"
        ),
        Column("status", String(16), nullable=False),
        Column("requester", String(200), nullable=False, comment="the caller's subject: the only one who sees it"),
        Column("requester_area", String(12), nullable=False),
        Column("sheet", String(100), comment="imports: the sheet named by the caller"),
        Column("filename", String(200), nullable=False),
        Column("content_sha256", String(64), comment="imports: the upload's SHA-256 (idempotency by content)"),
        Column("content", LargeBinary, comment="the upload, or the export once ready"),
        Column("size_bytes", Integer, nullable=False),
        Column("purpose", String(200), comment="clear exports: why, as audited"),
        Column("filters", JSON, nullable=False),
        Column("rows_total", Integer, nullable=False),
        Column("rows_done", Integer, nullable=False, comment="imports: the last sheet row committed (resume point)"),
        Column("rows_created", Integer, nullable=False),
        Column("rows_present", Integer, nullable=False, comment="imports: rows already recorded, skipped"),
        Column("rows_refused", Integer, nullable=False),
        Column("problems", JSON, nullable=False),
        Column("problems_count", Integer, nullable=False),
        Column("checked", Boolean, nullable=False),
        Column("job_id", Integer),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("finished_at", UTCDateTime()),
        CheckConstraint("direction IN ('import', 'export')", name="direction_known"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint("mode IN ('all_or_nothing', 'clean_rows', 'masked', 'clear')", name="mode_known"),
        CheckConstraint(f"size_bytes BETWEEN 0 AND {4 * MAX_UPLOAD_BYTES}", name="size_bytes_bounded"),
        CheckConstraint(
            "rows_total >= 0 AND rows_done >= 0 AND rows_created >= 0 AND rows_present >= 0 AND rows_refused >= 0"
            " AND problems_count >= 0",
            name="counts_bounded",
        ),
        # The same file for the same kind, mode and area is one import, however often and however concurrently
        # it is sent (exports have no hash: NULLs never collide).
        UniqueConstraint("kind", "mode", "requester_area", "content_sha256", name="uq_spreadsheets_content"),
        Index("ix_spreadsheets_requester_id", "requester", "id"),
    )


# --- what a service declares ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Importer:
    """A kind of row a service imports, through its own schema and create function."""

    kind: str
    description: str
    scope: str  # the scope of the create route: importing is creating
    layout: Layout
    schema: type[BaseModel]
    # The rules beyond the schema that the create route checks before writing (raise a DomainError naming the
    # field); the same function the create route calls.
    check: Callable[[AsyncSession, Principal, Any], Awaitable[Any]]
    # The row's identity (the person's ID number): the same twice in a file is a problem of the second row.
    key: Callable[[Any], str]
    # Create the rows, skipping those already recorded: True for each created, False for each already there.
    create_many: Callable[[AsyncSession, Principal, list[Any]], Awaitable[list[bool]]]
    key_field: str = "id_number"  # the column a repeated key is shown in
    # The rows carry an address written pending (`imported_address`): the service's job `addresses.standardise`
    # is enqueued with each chunk that created rows.
    addresses: bool = False
    area_field: str = "area_code"  # the column a refusal for the caller's area (403 on the route) is shown in
    build: Callable[[dict[str, Any]], dict[str, Any]] = lambda values: values
    # The tables `create_many` looks up and fills: on PostgreSQL their statistics are refreshed as the import
    # doubles them. A table loaded from empty otherwise keeps the planner's estimate of an empty table, and the
    # create function's lookup of who is already there becomes a scan of every row, once a chunk.
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exporter:
    """A list a service exports: the rows a caller may see, as the list route shows them."""

    kind: str
    description: str
    scope: str
    pii_scope: str
    sheet: str
    headers: tuple[str, ...]
    clear_headers: tuple[str, ...]  # the columns added in the clear when a purpose is stated
    # What the caller may see, as the list route selects it (its first entity holds `id_column`).
    query: Callable[[Principal, dict[str, Any]], Select[Any]]
    id_column: Any
    # One chunk of selected rows as sheet rows (masked, then the clear columns when `clear`), loading what they need.
    rows: Callable[[AsyncSession, list[Any], bool], Awaitable[list[list[Any]]]]
    # The audit subject of each entity: (subject_type, subject_id, subject_area).
    subject: Callable[[Any], tuple[str, str, str | None]]


def imported_address(
    principal: Principal, data: AddressIn, *, latitude: float | None = None, longitude: float | None = None
) -> AddressValues:
    """The address columns of a record imported from a spreadsheet: the text as written, `pending`, in the area the
    row gives (else the caller's own, which must cover it), for the service's job `addresses.standardise` to
    standardise: the create route's own path while placenames cannot be reached. A sheet of 100,000 people is not
    100,000 calls to placenames inside the import; the job places them in the background and marks what it cannot
    place `unresolved` for staff (`GET …?address_status=unresolved`)."""
    if data.address is None:
        raise InvalidInput("address", "required: give the address as text")
    check_coordinates(latitude, longitude)
    area = data.area_code or principal.area
    if area is None:
        raise InvalidInput("area_code", "required: the division the address lies in")
    principal.check_covers(area)
    return AddressValues(pending_address(data.address, area) | {"latitude": latitude, "longitude": longitude})


def shanghai(instant: dt.datetime | None) -> dt.datetime | None:
    """An instant as Asia/Shanghai wall time, which is what a cell shows (xlsx has no time zones)."""
    return None if instant is None else instant.astimezone(clock.SHANGHAI).replace(tzinfo=None)


# --- the API's shapes ----------------------------------------------------------------------------------------


class RowProblem(Schema):
    """One problem of an imported file: its row and column as the spreadsheet program shows them."""

    row: int | None = Field(description="The row number (1 is the first row); empty for the file as a whole")
    column: str | None = Field(description="The column letter, e.g. `B`; empty for the row as a whole")
    field: str | None = Field(description="The column's header")
    message: str = Field(description="What is wrong, and what to do")


class SpreadsheetImportOut(Schema):
    """An uploaded file and what became of it (导入)."""

    id: int = Field(description="The import's id")
    kind: str = Field(description="What the rows are")
    filename: str = Field(description="The file's name as uploaded")
    size_bytes: int = Field(description="Its size")
    content_sha256: str = Field(
        description="The SHA-256 of the file (with the sheet asked for, when one is named): the same file sent again "
        "for the same sheet is this same import"
    )
    clean_rows_only: bool = Field(description="Import the clean rows even when others have problems")
    status: ImportStatus = Field(
        description="queued; checking (every row); importing; imported; rejected (problems, nothing imported); "
        "failed (its job was cancelled or gave up after its retries: send the same file again to take it up from "
        "where it stopped)"
    )
    rows_total: int = Field(description="Data rows read (blank rows are not counted)")
    rows_created: int = Field(description="Rows created")
    rows_present: int = Field(description="Rows already recorded (the same person), skipped")
    rows_refused: int = Field(description="Rows with problems, not imported")
    problems_count: int = Field(description="Problems found in all")
    problems: list[RowProblem] = Field(description=f"The first {MAX_PROBLEMS_LISTED} problems, by row")
    job_id: int | None = Field(
        description="The background job doing it (the city's operators follow it at `GET /jobs/{id}`; its status and "
        "progress are given here)"
    )
    progress: int = Field(ge=0, le=100, description="Percent done")
    created_at: dt.datetime = Field(description="When it was uploaded")
    finished_at: dt.datetime | None = Field(description="When it was imported or rejected")


class SpreadsheetExportIn(Schema):
    """What to export, and, for personal data in the clear, why."""

    kind: str = Field(max_length=40, description="The list to export")
    area_code: str | None = Field(
        None, pattern=DIVISION_CODE_PATTERN, description="Only rows within this division (inside your own area)"
    )
    purpose: str | None = Field(
        None,
        min_length=4,
        max_length=200,
        description="Give it to get ID numbers and phones in the clear (needs the service's PII scope); every "
        "person in the file is then recorded in the audit of clear reads with this purpose",
    )


class SpreadsheetExportOut(Schema):
    """An export (导出) and, once ready, where to download it."""

    id: int = Field(description="The export's id")
    kind: str = Field(description="The list exported")
    masked: bool = Field(description="Personal data masked (no purpose was given)")
    purpose: str | None = Field(description="The stated purpose of a clear export")
    status: ExportStatus = Field(
        description="queued; exporting; ready (download it); failed (its job was cancelled or gave up after its "
        "retries: ask for the export again)"
    )
    rows_total: int = Field(description="Rows written")
    size_bytes: int = Field(description="The file's size once ready")
    download: str | None = Field(description="The path of the file once ready")
    job_id: int | None = Field(description="The background job doing it")
    progress: int = Field(ge=0, le=100, description="Percent done")
    created_at: dt.datetime = Field(description="When it was asked for")
    finished_at: dt.datetime | None = Field(description="When the file was ready")


# --- the principal a job acts as -----------------------------------------------------------------------------


def principal_args(principal: Principal) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "kind": principal.kind,
        "scopes": sorted(principal.scopes),
        "area": principal.area,
        "name": principal.name,
    }


def principal_of(args: dict[str, Any]) -> Principal:
    """The caller who asked, as the job acts for them: their area and scopes as they were when they asked."""
    return Principal(
        subject=args["subject"],
        kind=args["kind"],
        scopes=frozenset(args["scopes"]),
        area=args["area"],
        name=args["name"],
    )


def _problem_out(problem: Problem) -> dict[str, Any]:
    return problem.as_dict()


class Spreadsheets:
    """A service's imports and exports: its table, its two tasks (registered on its `tasks`), its routes."""

    def __init__(
        self,
        table: Table,
        tasks: Tasks,
        *,
        pii_reads: Table,
        importers: Sequence[Importer] = (),
        exporters: Sequence[Exporter] = (),
    ):
        self.table, self.tasks, self.pii_reads = table, tasks, pii_reads
        self.importers = {i.kind: i for i in importers}
        self.exporters = {e.kind: e for e in exporters}
        self.jobs = tasks.table
        tasks.task("spreadsheets.import", max_attempts=3)(self.run_import)
        tasks.task("spreadsheets.export", max_attempts=3)(self.run_export)

    # --- records ---------------------------------------------------------------------------------------------

    async def _record(
        self, session: AsyncSession, record_id: int, direction: str, principal: Principal
    ) -> dict[str, Any]:
        t, j = self.table, self.jobs
        row = (
            (
                await session.execute(
                    select(t, j.c.status.label("job_status"), j.c.progress.label("job_progress"))
                    .outerjoin(j, j.c.id == t.c.job_id)
                    .where(t.c.id == record_id, t.c.direction == direction, t.c.requester == principal.subject)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("no spreadsheet {direction} {record_id} of yours", direction=direction, record_id=record_id)
        return dict(row)

    @staticmethod
    def _status(row: dict[str, Any]) -> tuple[Any, int]:
        """The record's status, or failed when its job stopped for good before it could say so."""
        status = row["status"]
        if status not in FINAL and row.get("job_status") in ("failed", "cancelled"):
            return "failed", row["job_progress"] or 0
        return status, 100 if status in FINAL else row.get("job_progress") or 0

    def import_out(self, row: dict[str, Any]) -> SpreadsheetImportOut:
        status, progress = self._status(row)
        return SpreadsheetImportOut(
            id=row["id"],
            kind=row["kind"],
            filename=row["filename"],
            size_bytes=row["size_bytes"],
            content_sha256=row["content_sha256"],
            clean_rows_only=row["mode"] == "clean_rows",
            status=status,
            rows_total=row["rows_total"],
            rows_created=row["rows_created"],
            rows_present=row["rows_present"],
            rows_refused=row["rows_refused"],
            problems_count=row["problems_count"],
            problems=[RowProblem(**p) for p in row["problems"]],
            job_id=row["job_id"],
            progress=progress,
            created_at=row["created_at"],
            finished_at=row["finished_at"],
        )

    def export_out(self, row: dict[str, Any], prefix: str) -> SpreadsheetExportOut:
        status, progress = self._status(row)
        return SpreadsheetExportOut(
            id=row["id"],
            kind=row["kind"],
            masked=row["mode"] == "masked",
            purpose=row["purpose"],
            status=status,
            rows_total=row["rows_total"],
            size_bytes=row["size_bytes"],
            download=f"{prefix}/spreadsheet-exports/{row['id']}/file" if status == "ready" else None,
            job_id=row["job_id"],
            progress=progress,
            created_at=row["created_at"],
            finished_at=row["finished_at"],
        )

    async def _finish(self, database: Any, record_id: int, **values: Any) -> None:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(update(self.table).where(self.table.c.id == record_id).values(**values))

    # --- importing -------------------------------------------------------------------------------------------

    @staticmethod
    async def _check_chunk(
        session: AsyncSession,
        importer: Importer,
        principal: Principal,
        sheet: Sheet,
        chunk: list[CheckedRow],
        seen: set[str],
    ) -> None:
        """The rules beyond the schema (the create route's own checks), then the same person twice in the file:
        each failure becomes a problem of its row, named by column."""
        for row in chunk:
            if row.item is None:
                continue
            try:
                await importer.check(session, principal, row.item)
            except DomainError as error:
                where = importer.area_field if isinstance(error, Forbidden) else ""
                for problem in error.errors or [FieldProblem(field=where, location="body", message=error.detail)]:
                    loc = problem.field.split(".") if problem.field else []
                    row.problems.append(place(sheet, importer.layout, row, loc, problem.message))
                row.item = None
                continue
            key = importer.key(row.item)
            if key in seen:
                row.problems.append(
                    place(
                        sheet,
                        importer.layout,
                        row,
                        [importer.key_field],
                        "the same one is on an earlier row of this file",
                    )
                )
                row.item = None
            else:
                seen.add(key)

    async def run_import(self, ctx: JobContext) -> dict[str, Any]:
        t = self.table
        record_id = ctx.args["spreadsheet_id"]
        principal = principal_of(ctx.args["principal"])
        async with ctx.database.sessionmaker() as session:
            record = dict((await session.execute(select(t).where(t.c.id == record_id))).mappings().one())
        if record["status"] in FINAL:
            return {"spreadsheet_id": record_id, "status": record["status"]}
        importer = self.importers[record["kind"]]
        content: bytes = record["content"]
        try:
            if record["checked"]:  # an attempt taken over after the check: read the sheet again from its resume point
                await self._import_from_sheet(ctx, importer, principal, record, content)
            else:
                # The clean rows, as validated, go to a temporary file (memory stays flat): the sheet is parsed once.
                with tempfile.TemporaryFile() as spool:
                    if not await self._check_pass(ctx, importer, principal, record, content, spool):
                        return {"spreadsheet_id": record_id, "status": "rejected"}
                    spool.seek(0)
                    await self._import_from_spool(ctx, importer, principal, record, spool)
        except SpreadsheetRefused as refused:
            problem = Problem(None, None, None, str(refused)).as_dict()
            await self._finish(
                ctx.database, record_id, status="rejected", problems=[problem], problems_count=1, finished_at=utcnow()
            )
            return {"spreadsheet_id": record_id, "status": "rejected"}
        await self._finish(ctx.database, record_id, status="imported", finished_at=utcnow())
        return {"spreadsheet_id": record_id, "status": "imported"}

    @staticmethod
    async def _chunks(rows: Iterator[Any], size: int = CHUNK) -> Any:
        """The rows a chunk at a time, each chunk read and checked in a thread: the worker's loop stays free to
        renew its lease."""
        while chunk := await asyncio.to_thread(lambda: list(itertools.islice(rows, size))):
            yield chunk

    async def _check_pass(
        self,
        ctx: JobContext,
        importer: Importer,
        principal: Principal,
        record: dict[str, Any],
        content: bytes,
        spool: IO[bytes],
    ) -> bool:
        """Check every row, record the problems; True when the import goes on (clean, or clean rows asked for)."""
        sheet = await asyncio.to_thread(open_sheet, content, importer.layout, sheet=record["sheet"])
        total = refused = count = 0
        listed: list[dict[str, Any]] = []
        seen: set[str] = set()
        try:
            async for chunk in self._chunks(check_rows(sheet, importer.layout, importer.schema, build=importer.build)):
                async with ctx.database.sessionmaker() as session:
                    await self._check_chunk(session, importer, principal, sheet, chunk, seen)
                for row in chunk:
                    total += 1
                    if row.problems:
                        refused += 1
                        count += len(row.problems)
                        listed.extend(_problem_out(p) for p in row.problems[: MAX_PROBLEMS_LISTED - len(listed)])
                    elif row.item is not None:
                        pickle.dump((row.number, row.item), spool, protocol=pickle.HIGHEST_PROTOCOL)
                await ctx.progress(min(49, total * 50 // max(1, sheet.declared_rows)))
        finally:
            sheet.close()
        rejected = count > 0 and record["mode"] == "all_or_nothing"
        if total == 0:
            listed, count, rejected = [Problem(None, None, None, "the sheet has no data rows").as_dict()], 1, True
        await self._finish(
            ctx.database,
            record["id"],
            status="rejected" if rejected else "importing",
            checked=True,
            rows_total=total,
            rows_refused=refused,
            problems=listed,
            problems_count=count,
            finished_at=utcnow() if rejected else None,
        )
        record["rows_total"] = total
        return not rejected

    async def _import_from_spool(
        self, ctx: JobContext, importer: Importer, principal: Principal, record: dict[str, Any], spool: IO[bytes]
    ) -> None:
        def parsed() -> Iterator[tuple[int, BaseModel]]:
            # Rows this process validated and pickled to its own temporary file: read back as they were written,
            # not validated twice.
            while True:
                try:
                    yield pickle.load(spool)
                except EOFError:
                    return

        read = 0
        async for chunk in self._chunks(parsed()):
            read += len(chunk)
            await self._import_chunk(ctx, importer, principal, record["id"], chunk)
            await ctx.progress(50 + min(49, read * 50 // max(1, record["rows_total"])))

    async def _import_from_sheet(
        self, ctx: JobContext, importer: Importer, principal: Principal, record: dict[str, Any], content: bytes
    ) -> None:
        sheet = await asyncio.to_thread(open_sheet, content, importer.layout, sheet=record["sheet"])
        done, read = record["rows_done"], 0
        seen: set[str] = set()
        try:
            async for chunk in self._chunks(check_rows(sheet, importer.layout, importer.schema, build=importer.build)):
                read += len(chunk)
                if chunk[-1].number <= done:  # committed by an earlier attempt
                    continue
                async with ctx.database.sessionmaker() as session:
                    await self._check_chunk(session, importer, principal, sheet, chunk, seen)
                clean = [(row.number, row.item) for row in chunk if row.item is not None and row.number > done]
                await self._import_chunk(ctx, importer, principal, record["id"], clean, last=chunk[-1].number)
                await ctx.progress(50 + min(49, read * 50 // max(1, record["rows_total"])))
        finally:
            sheet.close()

    async def _import_chunk(
        self,
        ctx: JobContext,
        importer: Importer,
        principal: Principal,
        record_id: int,
        rows: list[tuple[int, Any]],
        *,
        last: int | None = None,
    ) -> None:
        """Create one chunk's rows and move the resume point past it, in one transaction."""
        t = self.table
        async with ctx.database.sessionmaker() as session, session.begin():
            done = await session.scalar(select(t.c.rows_done).where(t.c.id == record_id)) or 0
            items = [item for number, item in rows if number > done]
            created = await importer.create_many(session, principal, items) if items else []
            made = sum(created)
            if made and importer.addresses:
                await self.tasks.enqueue(session, STANDARDISE_TASK)  # a singleton: one live job however many ask
            now_done = max(done, last or 0, rows[-1][0] if rows else 0)
            await session.execute(
                update(t)
                .where(t.c.id == record_id)
                .values(
                    rows_done=now_done,
                    rows_created=t.c.rows_created + made,
                    rows_present=t.c.rows_present + len(created) - made,
                )
            )
        if importer.tables and ctx.database.dialect == "postgresql" and now_done.bit_length() > done.bit_length():
            await _analyze(ctx.database, importer.tables)

    # --- exporting -------------------------------------------------------------------------------------------

    async def run_export(self, ctx: JobContext) -> dict[str, Any]:
        t = self.table
        record_id = ctx.args["spreadsheet_id"]
        principal = principal_of(ctx.args["principal"])
        async with ctx.database.sessionmaker() as session:
            record = dict((await session.execute(select(t).where(t.c.id == record_id))).mappings().one())
        if record["status"] in FINAL:
            return {"spreadsheet_id": record_id, "status": record["status"]}
        exporter = self.exporters[record["kind"]]
        clear = record["mode"] == "clear"
        query = exporter.query(principal, record["filters"])
        async with ctx.database.sessionmaker() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        writer = XlsxWriter(exporter.sheet, exporter.headers + (exporter.clear_headers if clear else ()))
        subjects: list[tuple[str, str, str | None]] = []
        written, last = 0, None
        while True:
            async with ctx.database.sessionmaker() as session:
                page = query.order_by(exporter.id_column).limit(CHUNK * 2)
                if last is not None:
                    page = page.where(exporter.id_column > last)
                entities = list((await session.execute(page)).all())
                if not entities:
                    break
                rows = await exporter.rows(session, entities, clear)
            last = getattr(entities[-1][0], exporter.id_column.key)
            if clear:
                subjects.extend(exporter.subject(e) for e in entities)
            await asyncio.to_thread(writer.append, rows)
            written += len(rows)
            await ctx.progress(min(95, written * 95 // max(1, total)))
        data = await asyncio.to_thread(writer.save)
        async with ctx.database.sessionmaker() as session, session.begin():
            if clear:
                # If the audit cannot be written, the file is not stored: no clear value leaves unrecorded.
                fields = ",".join(exporter.clear_headers)
                for start in range(0, len(subjects), 1000):
                    await session.execute(
                        insert(self.pii_reads),
                        [
                            {
                                "read_at": utcnow(),
                                "reader": principal.subject,
                                "reader_kind": principal.kind,
                                "reader_area": principal.area,
                                "subject_type": subject_type,
                                "subject_id": subject_id,
                                "subject_area": area,
                                "fields": fields[:300],
                                "purpose": record["purpose"],
                                "request_id": ctx.args.get("request_id"),
                            }
                            for subject_type, subject_id, area in subjects[start : start + 1000]
                        ],
                    )
            await session.execute(
                update(t)
                .where(t.c.id == record_id)
                .values(content=data, size_bytes=len(data), rows_total=written, status="ready", finished_at=utcnow())
            )
        return {"spreadsheet_id": record_id, "status": "ready", "rows": written}

    # --- the routes ------------------------------------------------------------------------------------------

    def router(self, prefix: str) -> APIRouter:
        """`prefix` is the service's public path (`/api/eldercare/v1`), for the download link."""
        router = APIRouter(tags=["spreadsheets 表格导入导出"])
        table, tasks = self.table, self.tasks
        importers, exporters = self.importers, self.exporters
        import_kinds = ", ".join(f"`{k}` ({i.description})" for k, i in importers.items())
        export_kinds = ", ".join(f"`{k}` ({e.description})" for k, e in exporters.items())

        if importers:

            @router.post(
                "/spreadsheet-imports",
                status_code=202,
                response_model=SpreadsheetImportOut,
                summary="Import rows from a spreadsheet",
                description=f"Upload an .xlsx workbook or a CSV file (UTF-8 or GBK) of {import_kinds}, at most "
                f"{MAX_UPLOAD_BYTES // 2**20} MiB. The file is kept and a background job checks every row against "
                "the same rules as the create route, listing problems by row and column; nothing is imported "
                "until the file is clean, unless `clean_rows_only` is set (then the clean rows are). Rows already "
                "recorded (the same person) are skipped. The same file sent again is the same import (200, by its "
                "SHA-256); when that import's job was cancelled or gave up, it is taken up again from where it "
                "stopped, by a new job, for the sender (202). Follow it with `GET /spreadsheet-imports/{id}`. A file that "
                "is not a spreadsheet, or a workbook its zip's directory already refuses (damaged, encrypted, a part "
                "declared too large), is a 422 naming `file`, nothing stored. "
                "Needs the create route's scope. docs: README, Spreadsheets for staff.",
                responses={
                    200: {"model": SpreadsheetImportOut, "description": "The same file was already sent"},
                    # 400: a body that is not multipart/form-data at all (the form parser refuses it).
                    **problem_responses(400, 401, 403, 413, 422),
                },
            )
            async def import_spreadsheet(
                session: Session,
                principal: CurrentPrincipal,
                response: Response,
                file: Annotated[UploadFile, File(description="The .xlsx or .csv file")],
                kind: Annotated[str, Form(max_length=40, description=f"What the rows are: {import_kinds}")],
                clean_rows_only: Annotated[
                    bool, Form(description="Import the clean rows even if some rows have problems")
                ] = False,
                sheet: Annotated[
                    str | None, Form(max_length=100, description="The sheet to read (default: found by its headers)")
                ] = None,
            ) -> SpreadsheetImportOut:
                importer = importers.get(kind)
                if importer is None:
                    raise InvalidInput("kind", "one of {importers}", importers=", ".join(importers))
                # Form fields are not a Schema's: a NUL here would reach PostgreSQL, which cannot store it in text.
                if sheet is not None and (found := CONTROL_CHARACTERS.search(sheet)):
                    raise InvalidInput(
                        "sheet",
                        "must not contain control characters (found U+{code_point})",
                        code="control_character",
                        code_point=f"{ord(found.group()):04X}",
                    )
                if not principal.has(importer.scope):
                    raise Forbidden("importing {kind} needs the scope {scope}", kind=kind, scope=importer.scope)
                if not principal.is_area_staff or principal.area is None:
                    raise Forbidden("imports are made by staff of an area")
                content = await file.read(MAX_UPLOAD_BYTES + 1)
                if len(content) > MAX_UPLOAD_BYTES:
                    raise PayloadTooLarge(
                        "file",
                        "files are limited to {max_upload_bytes} MiB: split it",
                        max_upload_bytes=MAX_UPLOAD_BYTES // 2**20,
                    )
                try:
                    # A workbook its zip's directory already refuses (damaged, a part openpyxl reads whole declared
                    # too large...) is refused now, nothing stored; the worker's scan still counts while inflating.
                    if sniff(content) == "xlsx":
                        await asyncio.to_thread(check_zip, content)  # nothing inflated; a long directory takes a while
                except SpreadsheetRefused as refused:
                    raise InvalidInput("file", str(refused)) from None
                mode = "clean_rows" if clean_rows_only else "all_or_nothing"
                # Up to 32 MiB: off the event loop. The sheet asked for is part of what is imported: the same file
                # with another sheet named is another import, not the first one again.
                asked = content if sheet is None else content + b"\0sheet=" + sheet.encode()
                digest = await asyncio.to_thread(content_hash, asked)
                values = {
                    "direction": "import",
                    "kind": kind,
                    "mode": mode,
                    "status": "queued",
                    "requester": principal.subject,
                    "requester_area": principal.area,
                    "sheet": sheet,
                    # The name as sent is only shown back: its control characters are replaced, not refused.
                    "filename": CONTROL_CHARACTERS.sub("_", file.filename or "upload")[:200],
                    "content_sha256": digest,
                    "content": content,
                    "size_bytes": len(content),
                    "filters": {},
                    **_zero_counts(),
                    "created_at": utcnow(),
                }
                dialect = session.get_bind().dialect.name
                statement = conflict_insert(table, dialect).values(**values)
                record_id = await session.scalar(statement.on_conflict_do_nothing().returning(table.c.id))
                if record_id is None:  # the same file again: the first import is the answer
                    existing = await session.scalar(
                        select(table.c.id).where(
                            table.c.kind == kind,
                            table.c.mode == mode,
                            table.c.requester_area == principal.area,
                            table.c.content_sha256 == digest,
                        )
                    )
                    row = await self._record_any(session, existing)
                    if self._status(row)[0] == "failed":
                        # Its job was cancelled or gave up: nothing will ever run it. The file sent again takes it up
                        # again (from its resume point, as a worker taking it over would), for whoever sent it now.
                        revived = await self._revive(session, row, principal)
                        if revived is not None:
                            return revived
                        row = await self._record_any(session, existing)  # revived by a request at the same time
                    if row["requester"] != principal.subject:
                        raise Conflict(
                            "a colleague in your area already imported this very file",
                            resource=f"spreadsheet-imports/{existing}",
                        )
                    response.status_code = 200
                    return self.import_out(row)
                job_id = await tasks.enqueue(
                    session,
                    "spreadsheets.import",
                    {"spreadsheet_id": record_id, "principal": principal_args(principal)},
                )
                await session.execute(update(table).where(table.c.id == record_id).values(job_id=job_id))
                return self.import_out(await self._record(session, record_id, "import", principal))

            @router.get(
                "/spreadsheet-imports/{import_id}",
                response_model=SpreadsheetImportOut,
                summary="Follow an import",
                description="Its status, counts and the problems found by row and column. Only who uploaded it sees it.",
                responses=problem_responses(401, 404, 422),
            )
            async def get_import(
                session: Session, principal: CurrentPrincipal, import_id: RowId
            ) -> SpreadsheetImportOut:
                return self.import_out(await self._record(session, import_id, "import", principal))

        if exporters:

            @router.post(
                "/spreadsheet-exports",
                status_code=202,
                response_model=SpreadsheetExportOut,
                summary="Export a list to .xlsx",
                description=f"One of {export_kinds}: the rows you may see (as the list route shows them), written "
                "by a background job. ID numbers and phones are masked, unless you hold the PII scope and give a "
                "`purpose`: then they are in the clear, and every person in the file is recorded in the audit of "
                "clear reads. Download it from `download` once `ready`.",
                responses=problem_responses(401, 403, 422),
            )
            async def export_spreadsheet(
                data: SpreadsheetExportIn, session: Session, principal: CurrentPrincipal
            ) -> SpreadsheetExportOut:
                exporter = exporters.get(data.kind)
                if exporter is None:
                    raise InvalidInput("kind", "one of {exporters}", exporters=", ".join(exporters))
                if not principal.has(exporter.scope):
                    raise Forbidden("exporting {kind} needs the scope {scope}", kind=data.kind, scope=exporter.scope)
                if not principal.is_area_staff or principal.area is None:
                    raise Forbidden("exports are made by staff of an area")
                if data.area_code is not None:
                    principal.check_covers(data.area_code)
                purpose = data.purpose.strip() if data.purpose else None
                if data.purpose is not None and (purpose is None or len(purpose) < 4):
                    raise InvalidInput("purpose", "state the purpose in at least 4 characters")
                if purpose is not None and not exporter.clear_headers:
                    raise InvalidInput(
                        "purpose", "{kind} hold no personal data to show in the clear: leave it out", kind=data.kind
                    )
                if purpose is not None and not principal.has(exporter.pii_scope):
                    raise Forbidden(
                        "personal data in the clear needs the scope {pii_scope}", pii_scope=exporter.pii_scope
                    )
                record_id = await session.scalar(
                    insert(table)
                    .values(
                        direction="export",
                        kind=data.kind,
                        mode="clear" if purpose else "masked",
                        status="queued",
                        requester=principal.subject,
                        requester_area=principal.area,
                        filename=f"{data.kind}.xlsx",
                        size_bytes=0,
                        purpose=purpose,
                        filters={"area_code": data.area_code},
                        **_zero_counts(),
                        created_at=utcnow(),
                    )
                    .returning(table.c.id)
                )
                job_id = await tasks.enqueue(
                    session,
                    "spreadsheets.export",
                    {
                        "spreadsheet_id": record_id,
                        "principal": principal_args(principal),
                        "request_id": current_request_id(),
                    },
                )
                await session.execute(update(table).where(table.c.id == record_id).values(job_id=job_id))
                return self.export_out(await self._record(session, record_id, "export", principal), prefix)

            @router.get(
                "/spreadsheet-exports/{export_id}",
                response_model=SpreadsheetExportOut,
                summary="Follow an export",
                description="Its status and progress; the download path once ready. Only who asked sees it.",
                responses=problem_responses(401, 404, 422),
            )
            async def get_export(
                session: Session, principal: CurrentPrincipal, export_id: RowId
            ) -> SpreadsheetExportOut:
                return self.export_out(await self._record(session, export_id, "export", principal), prefix)

            @router.get(
                "/spreadsheet-exports/{export_id}/file",
                response_class=Response,
                summary="Download an export",
                description="The .xlsx file once the export is ready (409 before). Only who asked downloads it.",
                responses={
                    200: {"content": {XLSX: {}}, "description": "The workbook"},
                    **problem_responses(401, 404, 409, 422),
                },
            )
            async def download_export(session: Session, principal: CurrentPrincipal, export_id: RowId) -> Response:
                row = await self._record(session, export_id, "export", principal)
                status, _ = self._status(row)
                if status != "ready":
                    raise Conflict(
                        "the export is {status}, not ready", resource=f"spreadsheet-exports/{export_id}", status=status
                    )
                name = f"{row['kind']}-{row['id']}.xlsx"
                return Response(
                    row["content"],
                    media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
                )

        return router

    async def _revive(
        self, session: AsyncSession, row: dict[str, Any], principal: Principal
    ) -> SpreadsheetImportOut | None:
        """A new job for an import whose job ended without finishing it; None when a request at the same time did
        it first (the update is conditional on the dead job: one of them wins)."""
        t = self.table
        taken = await session.execute(
            update(t)
            .where(t.c.id == row["id"], t.c.job_id == row["job_id"], t.c.status.not_in(FINAL))
            .values(status="queued", requester=principal.subject, finished_at=None)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        job_id = await self.tasks.enqueue(
            session, "spreadsheets.import", {"spreadsheet_id": row["id"], "principal": principal_args(principal)}
        )
        await session.execute(update(t).where(t.c.id == row["id"]).values(job_id=job_id))
        return self.import_out(await self._record(session, row["id"], "import", principal))

    async def _record_any(self, session: AsyncSession, record_id: int | None) -> dict[str, Any]:
        t, j = self.table, self.jobs
        row = (
            (
                await session.execute(
                    select(t, j.c.status.label("job_status"), j.c.progress.label("job_progress"))
                    .outerjoin(j, j.c.id == t.c.job_id)
                    .where(t.c.id == record_id)
                )
            )
            .mappings()
            .one()
        )
        return dict(row)


async def _analyze(database: Any, tables: Sequence[str]) -> None:
    """Fresh statistics for `tables` (ANALYZE samples: tenths of a second at 100,000 rows). Only the tables' owner
    may: a service whose database user is not gets a warning, and the import goes on with the old estimates."""
    try:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(text(f"ANALYZE {', '.join(tables)}"))
    except DBAPIError as error:
        log.warning("ANALYZE %s refused (%s): the import goes on", ", ".join(tables), type(error.orig).__name__)


def _zero_counts() -> dict[str, Any]:
    return {
        "rows_total": 0,
        "rows_done": 0,
        "rows_created": 0,
        "rows_present": 0,
        "rows_refused": 0,
        "problems": [],
        "problems_count": 0,
        "checked": False,
    }
