"""Programme membership (enrolments) and the status lookup other services price with."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.database import PII_READS, id_number_index
from services.assistance.households.models import Household, Member
from services.assistance.programmes.models import Enrolment
from services.assistance.programmes.schemas import ProgrammeStatus, StatusLookupOut
from shared import clock
from shared.db import utcnow
from shared.errors import Forbidden
from shared.identity import Principal
from shared.idnumbers import parse_id_number
from shared.pii_reads import record_pii_read
from shared.request_id import current_request_id

LOOKUP_CALLERS = ("service", "staff")


def lookup_query(index: str, day: dt.date) -> Select:
    """One probe of ix_enrolments_id_number_current by the blind index: the enrolments that have begun and not
    ended. Nothing is decrypted: the answer needs only the programme and the day it began."""
    return (
        select(Enrolment.programme, Enrolment.since_on, Household.area_code)
        .outerjoin(Household, Household.id == Enrolment.household_id)
        .where(
            Enrolment.id_number_index == index,
            Enrolment.since_on <= day,
            or_(Enrolment.until_on.is_(None), Enrolment.until_on > day),
        )
        .order_by(Enrolment.programme)
    )


def _lookup_and_audit(index: str, day: dt.date, principal: Principal, purpose: str) -> Select:
    """The lookup and its audit record in one statement (PostgreSQL: a data-modifying CTE runs to completion
    whether or not the main query reads it), one round trip fewer than the probe then `record_pii_read`. The record
    is the one `record_pii_read` writes: the area is that of the first programme (by code) with a household."""
    found = lookup_query(index, day).cte("found")
    area = (
        select(found.c.area_code)
        .where(found.c.area_code.is_not(None), found.c.area_code != "")
        .order_by(found.c.programme)
        .limit(1)
        .scalar_subquery()
    )
    audit = (
        PII_READS.insert()
        .from_select(
            [
                "read_at",
                "reader",
                "reader_kind",
                "reader_area",
                "subject_type",
                "subject_id",
                "subject_area",
                "fields",
                "purpose",
                "request_id",
            ],
            select(
                literal(utcnow(), PII_READS.c.read_at.type),
                literal(principal.subject, PII_READS.c.reader.type),
                literal(principal.kind, PII_READS.c.reader_kind.type),
                literal(principal.area, PII_READS.c.reader_area.type),
                literal("status_lookup", PII_READS.c.subject_type.type),
                literal(index, PII_READS.c.subject_id.type),
                area,
                literal("programmes", PII_READS.c.fields.type),
                literal(purpose, PII_READS.c.purpose.type),
                literal(current_request_id(), PII_READS.c.request_id.type),
            ),
        )
        .cte("audit")
    )
    return select(found.c.programme, found.c.since_on, found.c.area_code).add_cte(audit).order_by(found.c.programme)


async def lookup(
    session: AsyncSession, principal: Principal, raw_id_number: str, *, purpose: str | None = None
) -> StatusLookupOut:
    """The person's current programmes, and an audit record of the lookup in the same transaction.

    The record names the person by the blind index of the ID number (the audit holds no ID number either) and
    the area of the household their enrolment belongs to, when they have one, so the district's auditors see
    the lookups about their people; lookups about people with no programme carry no area (city-wide auditors
    with a partner identity see them). Fields read: `programmes`.
    """
    if principal.kind not in LOOKUP_CALLERS:
        raise Forbidden("status lookups are for other services and staff, not for {kind} callers", kind=principal.kind)
    id_number = parse_id_number(raw_id_number)
    index = id_number_index(id_number.value)
    today = clock.today()
    purpose = purpose or f"eligibility for {principal.subject}"
    if (await session.connection()).dialect.name == "postgresql":
        rows = (await session.execute(_lookup_and_audit(index, today, principal, purpose))).all()
    else:
        rows = (await session.execute(lookup_query(index, today))).all()
        await record_pii_read(
            session,
            PII_READS,
            principal,
            subject_type="status_lookup",
            subject_id=index,
            subject_area=next((r.area_code for r in rows if r.area_code), None),
            values={"programmes": None},
            purpose=purpose,
        )
    return StatusLookupOut(
        id_number_masked=id_number.masked,
        as_of=today,
        programmes=[ProgrammeStatus(code=r.programme, since=r.since_on) for r in rows],
    )


async def audit_subjects(session: AsyncSession, id_number: str) -> list[tuple[str, str]]:
    """The audit subjects that are the person with this ID number: each member record (by blind index; its ID
    number and incomes are read under it), the household it belongs to (its income totals are read under that)
    and the status lookups about them (recorded under the blind index itself)."""
    index = id_number_index(id_number)
    rows = (await session.execute(select(Member.id, Member.household_id).where(Member.id_number_index == index))).all()
    return (
        [("member", str(member_id)) for member_id, _ in rows]
        + [("household", str(household_id)) for household_id in {h for _, h in rows}]
        + [("status_lookup", index)]
    )


async def enrol(
    session: AsyncSession,
    *,
    id_number: str,
    household_id: int | None,
    programme: str,
    since_on: dt.date,
    monthly_fen: int,
    basis: str,
) -> Enrolment:
    """Start a person's membership of a programme (after an approval). The partial unique index refuses a second
    current one for the same programme."""
    enrolment = Enrolment(
        id_number=id_number,
        household_id=household_id,
        programme=programme,
        since_on=since_on,
        monthly_fen=monthly_fen,
        basis=basis,
        created_at=utcnow(),
    )
    session.add(enrolment)
    await session.flush()
    return enrolment


async def current_of(session: AsyncSession, id_numbers: list[str], day: dt.date) -> dict[str, set[str]]:
    """Programmes each person receives on `day` (for eligibility results and screening leads)."""
    by_index = {id_number_index(n): n for n in id_numbers}
    rows = await session.execute(
        select(Enrolment.id_number_index, Enrolment.programme).where(
            Enrolment.id_number_index.in_(by_index),
            Enrolment.since_on <= day,
            or_(Enrolment.until_on.is_(None), Enrolment.until_on > day),
        )
    )
    found: dict[str, set[str]] = {n: set() for n in id_numbers}
    for index, programme in rows:
        found[by_index[index]].add(programme)
    return found
