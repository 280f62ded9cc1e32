"""Personal data in the clear: only with a scope and a stated purpose, and never without an audit record.

Responses mask ID numbers, phone numbers and incomes. A caller holding the service's `<service>.pii:read`
scope asks for one record's clear values with `POST .../{id}/pii-reads` and a purpose. The service writes
who read what of whom, when, why and under which request id into its `pii_reads` table in the same
transaction as the answer: if the record cannot be written, no clear value leaves. The table is
append-only (each service's migration adds triggers that refuse UPDATE and DELETE).

Auditors page through the records with `GET /pii-reads` (`<service>.pii_reads:read`); staff auditors see
the reads about people in their area, a partner holding the scope (a supervising department) sees all.
An auditor who knows the person, not the service's row ids (a citizen asks who looked at their data), posts
the person's ID number or phone to `POST /pii-reads/searches`: the service turns it into the audit subjects
that are that person (its `SubjectFinder`, by blind index), so neither the audit nor a URL holds the number.

A service uses it in three steps: `PII_READS = pii_reads_table(Base.metadata)`; a route that checks the
caller may see the record, then returns `await record_pii_read(...)`; and `pii_reads_router(PII_READS,
scope=...)` in its app's routers. The migration that creates the table also adds the triggers, written
out in the migration itself (a migration stays frozen): on PostgreSQL a `BEFORE UPDATE OR DELETE ... FOR EACH
ROW` trigger raising SQLSTATE 23514, on SQLite `BEFORE UPDATE` and `BEFORE DELETE` triggers with
`RAISE(ABORT, ...)`, as charity's ledger migration does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field, field_validator
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    false,
    insert,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared.areas import DIVISION_CODE_PATTERN, area_prefix
from shared.clock import Instant
from shared.db import Session, UTCDateTime, utcnow
from shared.errors import InvalidInput, problem_responses
from shared.identity import Principal, require
from shared.idnumbers import MobilePhone, parse_id_number
from shared.pagination import Page, PageParams, keyset, page_of, page_params
from shared.request_id import current_request_id
from shared.schemas import Schema

TABLE = "pii_reads"


def pii_reads_table(metadata: MetaData) -> Table:
    """The audit of clear reads, kept in each service's own database next to the data it protects."""
    return Table(
        TABLE,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("read_at", UTCDateTime(), nullable=False),
        Column("reader", String(200), nullable=False, comment="the caller's subject"),
        Column("reader_kind", String(20), nullable=False),
        Column("reader_area", String(12)),
        Column("subject_type", String(40), nullable=False, comment="e.g. elder, member, donor"),
        Column("subject_id", String(64), nullable=False),
        Column("subject_area", String(12), comment="division code of the person read about"),
        Column("fields", String(300), nullable=False, comment="comma-separated field names read in the clear"),
        Column("purpose", String(200), nullable=False),
        Column("request_id", String(64)),
        Index("ix_pii_reads_subject", "subject_type", "subject_id"),
        Index("ix_pii_reads_reader", "reader"),
    )


class PiiReadIn(Schema):
    """A request for one record's personal data in the clear, and why."""

    purpose: str = Field(
        min_length=4,
        max_length=200,
        examples=["电话回访：核实助餐订单地址"],
        description="Why the clear values are needed; kept in the audit record for auditors",
    )

    @field_validator("purpose")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 4:
            raise ValueError("state the purpose in at least 4 characters")
        return value


class PiiReadOut(Schema):
    """The clear values, and the audit record written for the read."""

    read_id: int = Field(description="The audit record written for this read")
    read_at: dt.datetime = Field(description="When the values were read")
    values: dict[str, str | None] = Field(description="The requested fields in the clear")


class PiiReadRecord(Schema):
    """One clear read of personal data: who read what of whom, when, why and in which request."""

    id: int = Field(description="The audit record's id")
    read_at: dt.datetime = Field(description="When the values were read")
    reader: str = Field(description="Who read them (the caller's subject)")
    reader_kind: str = Field(description="The reader's kind: staff, partner or service")
    reader_area: str | None = Field(description="The reader's area (staff)")
    subject_type: str = Field(description="What kind of record was read, e.g. `elder` or `member`")
    subject_id: str = Field(description="The id of the record read")
    subject_area: str | None = Field(description="The division the person belongs to")
    fields: list[str] = Field(description="The fields read in the clear")
    purpose: str = Field(description="The purpose the reader gave")
    request_id: str | None = Field(description="The request of the read, as in the logs")


async def record_pii_read(
    session: AsyncSession,
    table: Table,
    principal: Principal,
    *,
    subject_type: str,
    subject_id: int | str,
    subject_area: str | None,
    values: dict[str, str | None],
    purpose: str,
) -> PiiReadOut:
    """Write the audit record, then hand back the values. Call it only after checking the caller may see
    the record; the route's session commits both together."""
    now = utcnow()
    read_id = await session.scalar(
        insert(table)
        .values(
            read_at=now,
            reader=principal.subject,
            reader_kind=principal.kind,
            reader_area=principal.area,
            subject_type=subject_type,
            subject_id=str(subject_id),
            subject_area=subject_area,
            fields=",".join(values),
            purpose=purpose,
            request_id=current_request_id(),
        )
        .returning(table.c.id)
    )
    return PiiReadOut(read_id=read_id, read_at=now, values=values)


Subject = tuple[str, str]  # (subject_type, subject_id) as the audit stores them


@dataclass(frozen=True)
class SubjectFinder:
    """How a service names one person in its audit: `find(session, value)` returns every (subject_type,
    subject_id) that is the person with this ID number (`field="id_number"`, validated before the call) or this
    mobile phone (`field="phone"`), found by the service's blind index."""

    field: Literal["id_number", "phone"]
    find: Callable[[AsyncSession, str], Awaitable[list[Subject]]]


class PiiReadSearch(Schema):
    """The person whose reads an auditor looks for, by ID number or phone, and an optional time window."""

    id_number: str | None = Field(
        None,
        max_length=30,
        examples=["330203195001011236"],
        description="The person's ID number (services that hold ID numbers)",
    )
    phone: MobilePhone | None = Field(None, description="The person's mobile number (services that hold phones)")
    since: Instant | None = Field(None, description="Reads at or after (ISO 8601 with offset)")
    until: Instant | None = Field(None, description="Reads before (ISO 8601 with offset)")


def _audit_query(
    table: Table, principal: Principal, page: PageParams, *, since: dt.datetime | None, until: dt.datetime | None
) -> Select[*tuple[Any, ...]] | None:
    """The page of audit records the caller may see, newest first; None when it may see none."""
    query = keyset(select(table), table.c.id, page, descending=True)
    if principal.is_area_staff and principal.area is not None:  # an auditor of a district sees its people's reads
        query = query.where(table.c.subject_area.startswith(area_prefix(principal.area)))
    elif principal.kind == "staff":
        return None
    if since is not None:
        query = query.where(table.c.read_at >= since)
    if until is not None:
        query = query.where(table.c.read_at < until)
    return query


async def _page(session: AsyncSession, query: Select[*tuple[Any, ...]] | None, page: PageParams) -> Page[PiiReadRecord]:
    if query is None:
        return Page(items=[], next_cursor=None)
    rows = (await session.execute(query)).mappings().all()
    records = [PiiReadRecord(**{**row, "fields": row["fields"].split(",")}) for row in rows]
    return page_of(records, page, key=lambda r: r.id)


def pii_reads_router(
    table: Table, *, scope: str, subjects: SubjectFinder | None = None, tags: list[str | Enum] | None = None
) -> APIRouter:
    """`GET /pii-reads`: the audit of clear reads, newest first; with `subjects`, also `POST /pii-reads/searches`:
    the same audit about one person, named by ID number or phone in the body."""
    router = APIRouter(prefix="/pii-reads", tags=tags or ["audit 审计"])

    @router.get(
        "",
        response_model=Page[PiiReadRecord],
        summary="Audit of personal data read in the clear",
        description="Every clear read of ID numbers, phones or incomes: who, what, whose, when, why and the "
        "request id, newest first. Staff auditors see reads about people in their area.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_pii_reads(
        session: Session,
        page: Annotated[PageParams, Depends(page_params)],
        reader: Annotated[str | None, Query(max_length=200, description="Only reads by this subject")] = None,
        subject_type: Annotated[str | None, Query(max_length=40)] = None,
        subject_id: Annotated[str | None, Query(max_length=64)] = None,
        subject_area: Annotated[
            str | None, Query(pattern=DIVISION_CODE_PATTERN, description="Only reads about people in this area")
        ] = None,
        since: Annotated[Instant | None, Query(description="Reads at or after (ISO 8601 with offset)")] = None,
        until: Annotated[Instant | None, Query(description="Reads before (ISO 8601 with offset)")] = None,
        # A default, not `Annotated[..., require(scope)]`: under `from __future__ import annotations` FastAPI
        # evaluates annotations in the module's globals, where the local `scope` does not exist.
        principal: Principal = require(scope),
    ) -> Page[PiiReadRecord]:
        query = _audit_query(table, principal, page, since=since, until=until)
        if query is not None:
            if subject_area:
                query = query.where(table.c.subject_area.startswith(area_prefix(subject_area)))
            for column, value in (
                (table.c.reader, reader),
                (table.c.subject_type, subject_type),
                (table.c.subject_id, subject_id),
            ):
                if value is not None:
                    query = query.where(column == value)
        return await _page(session, query, page)

    if subjects is None:
        return router
    other = "phone" if subjects.field == "id_number" else "id_number"

    @router.post(
        "/searches",
        response_model=Page[PiiReadRecord],
        summary="Audit of reads about one person",
        description=f"The audit records about the person with this `{subjects.field}` (in the body, never "
        "in a URL), newest first, with the same area rule as the list. The service finds the "
        "person's records by blind index: the audit itself holds no number. Pages continue "
        "with `cursor` in the query and the same body.",
        responses=problem_responses(401, 403, 422),
    )
    async def search_pii_reads(
        data: PiiReadSearch,
        session: Session,
        page: Annotated[PageParams, Depends(page_params)],
        principal: Principal = require(scope),
    ) -> Page[PiiReadRecord]:
        if getattr(data, other) is not None:
            raise InvalidInput(
                other, "this service finds people by {field_}, not by {other}", field_=subjects.field, other=other
            )
        value = getattr(data, subjects.field)
        if value is None:
            raise InvalidInput(subjects.field, "required")
        if subjects.field == "id_number":
            value = parse_id_number(value).value
        query = _audit_query(table, principal, page, since=data.since, until=data.until)
        if query is not None:
            found = await subjects.find(session, value)
            query = query.where(tuple_(table.c.subject_type, table.c.subject_id).in_(found) if found else false())
        return await _page(session, query, page)

    return router
