"""Institutions (养老机构) and their beds: registration, search, and the days a bed is available.

A bed's occupancy now (free, held, occupied) comes from its live holds and admissions (`occupancy.live_now`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.beds.models import Bed, BedOccupancy, Institution
from services.eldercare.beds.occupancy import live_now
from services.eldercare.beds.schemas import BedAvailabilityOut, BedIn, BedOut, InstitutionIn, InstitutionOut
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import within_area
from shared.db import get_or_404, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset


def institution_out(i: Institution) -> InstitutionOut:
    """Not a 1:1 mapping: adds the district of the area code."""
    return InstitutionOut(
        id=i.id,
        name=i.name,
        ownership=i.ownership,
        star_rating=i.star_rating,
        district_code=i.area_code[:6],
        **address_out(i),
        created_at=i.created_at,
    )


async def create_institution(
    session: AsyncSession, principal: Principal, data: InstitutionIn, address: AddressValues
) -> Institution:
    """`address`: the address as `shared.addresses.standardise_input` found it (the caller's area checked)."""
    existing = await session.scalar(select(Institution.id).where(Institution.name == data.name))
    if existing is not None:
        raise Conflict("an institution named {name} exists", resource=f"institutions/{existing}", name=data.name)
    institution = Institution(
        name=data.name,
        ownership=data.ownership,
        star_rating=data.star_rating,
        **address.values,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(institution)
    await session.flush()
    return institution


async def get_institution(session: AsyncSession, institution_id: int) -> Institution:
    return await get_or_404(
        session, Institution, institution_id, "no institution {institution_id}", institution_id=institution_id
    )


async def list_institutions(
    session: AsyncSession, page: PageParams, *, area_code: str | None, ownership: str | None, min_stars: int | None
) -> list[Institution]:
    query = keyset(select(Institution), Institution.id, page)
    if area_code:
        query = query.where(within_area(Institution.area_code, area_code))
    if ownership:
        query = query.where(Institution.ownership == ownership)
    if min_stars:
        query = query.where(Institution.star_rating >= min_stars)
    return list(await session.scalars(query))


async def create_bed(session: AsyncSession, principal: Principal, data: BedIn) -> Bed:
    institution = await get_institution(session, data.institution_id)
    if not principal.covers(institution.area_code):
        raise Forbidden(
            "institution {institution_id} is outside your area {area}",
            institution_id=institution.id,
            area=principal.area,
        )
    existing = await session.scalar(select(Bed.id).where(Bed.institution_id == institution.id, Bed.label == data.label))
    if existing is not None:
        raise Conflict(
            "institution {institution_id} already has a bed {label}",
            resource=f"beds/{existing}",
            institution_id=institution.id,
            label=data.label,
        )
    bed = Bed(**data.model_dump(), created_at=utcnow())
    session.add(bed)
    await session.flush()
    return bed


def _beds_query(now: dt.datetime) -> Select:
    live = select(BedOccupancy.bed_id, BedOccupancy.kind, BedOccupancy.expires_at).where(live_now(now)).subquery()
    return (
        select(Bed, Institution, live.c.kind, live.c.expires_at)
        .join(Institution, Institution.id == Bed.institution_id)
        .outerjoin(live, live.c.bed_id == Bed.id)
    )


def bed_out(bed: Bed, institution: Institution, kind: str | None, expires_at: dt.datetime | None) -> BedOut:
    """Not a 1:1 mapping: joins the bed with its institution and tells its occupancy now."""
    occupancy = {"admission": "occupied", "hold": "held", None: "free"}[kind] if bed.in_service else "out_of_service"
    return BedOut(
        id=bed.id,
        institution_id=institution.id,
        institution_name=institution.name,
        district_code=institution.area_code[:6],
        label=bed.label,
        bed_type=bed.bed_type,
        in_service=bed.in_service,
        occupancy=occupancy,
        held_until=expires_at if kind == "hold" else None,
    )


async def get_bed(session: AsyncSession, bed_id: int) -> BedOut:
    row = (await session.execute(_beds_query(utcnow()).where(Bed.id == bed_id))).first()
    if row is None:
        raise NotFound("no bed {bed_id}", bed_id=bed_id)
    return bed_out(*row)


async def search_beds(
    session: AsyncSession,
    page: PageParams,
    *,
    bed_type: str | None,
    district_code: str | None,
    institution_id: int | None,
    available_on: dt.date | None,
    only_free: bool,
) -> list[BedOut]:
    """Beds by type, district and institution. `available_on`: available for admission on that day, by the rule of
    `bed_availability` (an admission blocks its bed on every day; a live hold up to its deadline's day); a past day
    is refused."""
    if available_on is not None and available_on < clock.today():
        raise InvalidInput("available_on", "must be today or later", location="query")
    now = utcnow()
    query = keyset(_beds_query(now), Bed.id, page)
    if bed_type:
        query = query.where(Bed.bed_type == bed_type)
    if district_code:
        query = query.where(within_area(Institution.area_code, district_code))
    if institution_id:
        query = query.where(Bed.institution_id == institution_id)
    if available_on is not None:
        query = query.where(
            Bed.in_service.is_(True), ~exists().where(BedOccupancy.bed_id == Bed.id, _blocks_day(available_on, now))
        )
    elif only_free:
        query = query.where(Bed.in_service.is_(True), ~exists().where(BedOccupancy.bed_id == Bed.id, live_now(now)))
    return [bed_out(*row) for row in (await session.execute(query)).all()]


AVAILABILITY_HORIZON_DAYS = 366


def _shanghai_midnight(day: dt.date) -> dt.datetime:
    """The instant a Shanghai civil day begins, in UTC."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=clock.SHANGHAI).astimezone(dt.UTC)


def _blocks_day(day: dt.date, now: dt.datetime):
    """An occupancy that keeps its bed from taking a person on `day` (and so on every day before it): an
    admission (no stay has a planned end), or a live hold whose deadline falls on that day or later."""
    return and_(
        live_now(now), or_(BedOccupancy.kind == "admission", BedOccupancy.expires_at >= _shanghai_midnight(day))
    )


async def bed_availability(
    session: AsyncSession,
    page: PageParams,
    *,
    date_from: dt.date,
    date_to: dt.date,
    bed_type: str | None,
    institution_id: int | None,
    area_code: str | None,
    whole_range: bool,
) -> list[BedAvailabilityOut]:
    """Beds available on the days from `date_from` to `date_to` (Shanghai dates), by the rule the router states:
    out of service or with an active admission: never (no stay has a planned end); with a live hold: from the day
    after its deadline's day; else: every day."""
    today = clock.today()
    if date_from < today:
        raise InvalidInput("date_from", "must be today or later", location="query")
    if date_to < date_from:
        raise InvalidInput("date_to", "must be on or after date_from", location="query")
    if date_to > today + dt.timedelta(days=AVAILABILITY_HORIZON_DAYS):
        raise InvalidInput(
            "date_to",
            "availability is answered at most {availability_horizon_days} days ahead",
            location="query",
            availability_horizon_days=AVAILABILITY_HORIZON_DAYS,
        )
    now = utcnow()
    # The first day that must be free: date_from, or date_to when beds that free up within the range count.
    blocking = _blocks_day(date_from if whole_range else date_to, now)
    query = keyset(
        _beds_query(now).where(Bed.in_service.is_(True), ~exists().where(BedOccupancy.bed_id == Bed.id, blocking)),
        Bed.id,
        page,
    )
    if bed_type:
        query = query.where(Bed.bed_type == bed_type)
    if institution_id:
        query = query.where(Bed.institution_id == institution_id)
    if area_code:
        query = query.where(within_area(Institution.area_code, area_code))
    found = []
    for bed, institution, kind, expires_at in (await session.execute(query)).all():
        held_until = expires_at if kind == "hold" else None
        available_from = date_from
        if held_until is not None:
            available_from = max(date_from, held_until.astimezone(clock.SHANGHAI).date() + dt.timedelta(days=1))
        found.append(
            BedAvailabilityOut(
                bed_id=bed.id,
                institution_id=institution.id,
                institution_name=institution.name,
                district_code=institution.area_code[:6],
                label=bed.label,
                bed_type=bed.bed_type,
                available_from=available_from,
                whole_range=available_from == date_from,
                basis="free" if held_until is None else "if_hold_lapses",
                held_until=held_until,
            )
        )
    return found
