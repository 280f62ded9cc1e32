"""Home visits (居家上门服务): the catalogue, providers and caregivers, scheduling without double-booking,
check-in and check-out on site, missed visits, and records that lock 30 days after check-out.

Electronic visit verification (EVV): a visit is verified, and draws from the person's home-care subsidy, only if
it was checked in near its scheduled start, lasted at least a share of its scheduled duration, and was checked in
and out near the person's home (`Evv`, from settings). Outside any of these it is flagged for review and draws
nothing until staff correct it to verified (`correct`), which draws once; a verified visit corrected to flagged gives
its draw back (a reversal entry: the subsidy ledger only grows), and draws again, once, if confirmed again."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare import notices
from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import get_visible, visible_to
from services.eldercare.homecare.models import (
    BOOKED_STATES,
    Caregiver,
    HomeService,
    Provider,
    Visit,
    VisitCorrection,
    caregiver_id_number_index,
)
from services.eldercare.homecare.schemas import (
    CaregiverIn,
    CaregiverOut,
    CorrectionIn,
    HomeServiceIn,
    Position,
    ProviderIn,
    ProviderOut,
    VisitIn,
    VisitOut,
)
from services.eldercare.overrides import service as overrides
from services.eldercare.quotas import check_open_visits
from services.eldercare.scopes import OVERRIDES_WRITE
from services.eldercare.subsidies.service import live_draws, settle_visit
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import covers, within_area
from shared.db import get_or_404, utcnow
from shared.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from shared.i18n import N_
from shared.identity import Principal
from shared.idnumbers import mask_id_number, mask_phone, parse_id_number
from shared.pagination import PageParams, keyset

LOCK_AFTER = dt.timedelta(days=30)
MISSED_AFTER = dt.timedelta(minutes=30)
EARTH_RADIUS_M = 6_371_000


@dataclass(frozen=True)
class Evv:
    """What a visit must meet to be verified; each figure is a setting (settings.py says why these defaults)."""

    radius_m: float
    early: dt.timedelta
    late: dt.timedelta
    min_duration_share: float

    @classmethod
    def of(cls, settings) -> Evv:
        return cls(
            radius_m=settings.visit_radius_m,
            early=dt.timedelta(minutes=settings.visit_check_in_early_minutes),
            late=dt.timedelta(minutes=settings.visit_check_in_late_minutes),
            min_duration_share=settings.visit_min_duration_share,
        )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


# ---- catalogue, providers, caregivers --------------------------------------------------------------------


async def create_service(session: AsyncSession, principal: Principal, data: HomeServiceIn) -> HomeService:
    if not principal.is_city_staff:
        raise Forbidden("the catalogue is kept by city-level staff (area 330200)")
    existing = await session.scalar(select(HomeService.id).where(HomeService.code == data.code))
    if existing is not None:
        raise Conflict("a service with code {code_} exists", resource=f"services/{existing}", code_=data.code)
    item = HomeService(**data.model_dump(), is_active=True, created_at=utcnow())
    session.add(item)
    await session.flush()
    return item


async def list_services(session: AsyncSession) -> list[HomeService]:
    return list(
        await session.scalars(
            select(HomeService).where(HomeService.is_active.is_(True)).order_by(HomeService.category, HomeService.id)
        )
    )


async def create_provider(
    session: AsyncSession, principal: Principal, data: ProviderIn, address: AddressValues
) -> Provider:
    """`address`: the base's address as `shared.addresses.standardise_input` found it (the caller's area checked)."""
    existing = await session.scalar(select(Provider.id).where(Provider.credit_code == data.credit_code))
    if existing is not None:
        raise Conflict("a provider with this credit code exists", resource=f"providers/{existing}")
    provider = Provider(
        name=data.name,
        credit_code=data.credit_code,
        phone=data.phone,
        **address.values,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(provider)
    await session.flush()
    return provider


async def list_providers(session: AsyncSession, page: PageParams, *, area_code: str | None) -> list[Provider]:
    query = keyset(select(Provider), Provider.id, page)
    if area_code:
        query = query.where(within_area(Provider.area_code, area_code))
    return list(await session.scalars(query))


async def _provider_of_staff(session: AsyncSession, principal: Principal, provider_id: int) -> Provider:
    provider = await get_or_404(session, Provider, provider_id, "no provider {provider_id}", provider_id=provider_id)
    if not principal.covers(provider.area_code):
        raise Forbidden(
            "provider {provider_id} is outside your area {area}", provider_id=provider_id, area=principal.area
        )
    return provider


def provider_out(p: Provider) -> ProviderOut:
    """Not a 1:1 mapping: masks the phone, a contact person's mobile (as a caregiver's, or a charity's contact's)."""
    return ProviderOut(
        id=p.id,
        name=p.name,
        credit_code=p.credit_code,
        phone_masked=mask_phone(p.phone) if p.phone else None,
        created_at=p.created_at,
        **address_out(p),
    )


def caregiver_out(c: Caregiver) -> CaregiverOut:
    """Not a 1:1 mapping: masks the ID number and phone, and tells whether the certificate is valid today."""
    return CaregiverOut(
        id=c.id,
        provider_id=c.provider_id,
        name=c.name,
        id_number_masked=mask_id_number(c.id_number),
        phone_masked=mask_phone(c.phone) if c.phone else None,
        certificate_no=c.certificate_no,
        certificate_level=c.certificate_level,
        certificate_expires_on=c.certificate_expires_on,
        certificate_valid=c.certificate_expires_on >= clock.today(),
        is_active=c.is_active,
        app_paired=c.app_subject is not None,
    )


async def check_new_caregiver(session: AsyncSession, principal: Principal, data: CaregiverIn) -> None:
    """The rules a new caregiver must pass before anything is written (the create route and a spreadsheet
    import): a provider in the caller's area, a valid ID number."""
    await _provider_of_staff(session, principal, data.provider_id)
    parse_id_number(data.id_number)


async def create_caregiver(session: AsyncSession, principal: Principal, data: CaregiverIn) -> Caregiver:
    await check_new_caregiver(session, principal, data)
    id_number = parse_id_number(data.id_number)
    existing = await session.scalar(
        select(Caregiver.id).where(Caregiver.id_number_index == caregiver_id_number_index(id_number.value))
    )
    if existing is not None:
        raise Conflict("this caregiver is already registered", resource=f"caregivers/{existing}")
    caregiver = Caregiver(**(data.model_dump() | {"id_number": id_number.value}), is_active=True, created_at=utcnow())
    session.add(caregiver)
    await session.flush()
    return caregiver


async def create_caregivers(session: AsyncSession, principal: Principal, items: list[CaregiverIn]) -> list[bool]:
    """Create caregivers from a spreadsheet: one already registered (the same ID number) is skipped (False)."""
    created = []
    for data in items:
        try:
            await create_caregiver(session, principal, data)
        except Conflict:  # refused before anything was written
            created.append(False)
        else:
            created.append(True)
    return created


async def list_caregivers(
    session: AsyncSession, page: PageParams, *, provider_id: int | None, certified_on: dt.date | None
) -> list[Caregiver]:
    query = keyset(select(Caregiver).where(Caregiver.is_active.is_(True)), Caregiver.id, page)
    if provider_id is not None:
        query = query.where(Caregiver.provider_id == provider_id)
    if certified_on is not None:
        query = query.where(Caregiver.certificate_expires_on >= certified_on)
    return list(await session.scalars(query))


# ---- visits ----------------------------------------------------------------------------------------------


def locks_at(visit: Visit) -> dt.datetime:
    """A record locks 30 days after its check-out; one never checked out, 30 days after its scheduled end (else a
    visit left open could still be checked in and out, and draw, months later)."""
    return (visit.check_out_at or visit.ends_at) + LOCK_AFTER


def is_locked(visit: Visit, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) >= locks_at(visit)


def visit_out(visit: Visit, drawn: int | None = None) -> VisitOut:
    """Not a 1:1 mapping: adds what the subsidy paid of a verified visit and what was self-paid, and the lock."""
    settled = visit.status == "verified" and drawn is not None
    return VisitOut(
        id=visit.id,
        elder_id=visit.elder_id,
        service_id=visit.service_id,
        caregiver_id=visit.caregiver_id,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        price_fen=visit.price_fen,
        status=visit.status,
        check_in_at=visit.check_in_at,
        check_in_distance_m=visit.check_in_distance_m,
        check_out_at=visit.check_out_at,
        check_out_distance_m=visit.check_out_distance_m,
        flags=visit.flags or [],
        rating=visit.rating,
        locked=is_locked(visit),
        subsidy_fen=drawn if settled else 0,
        self_paid_fen=visit.price_fen - drawn if settled else 0,
    )


async def drawn_for(session: AsyncSession, visit_id: int) -> int | None:
    """What the visit's live draw took (None: no live draw, never drawn or reversed)."""
    return (await live_draws(session, [visit_id])).get(visit_id)


def visits_visible_to(principal: Principal) -> Select:
    elders = visible_to(principal).with_only_columns(Elder.id)
    return select(Visit).where(Visit.elder_id.in_(elders))


def visits_of_caregiver(caregiver_id: int) -> Select:
    return select(Visit).where(Visit.caregiver_id == caregiver_id)


def _acting_on(principal: Principal, caregiver_id: int | None) -> Select:
    """The visits a check-in or check-out may touch: staff (and whoever holds the operate scope) those of the
    people they may see; a caregiver through the app (`caregiver_id`) only those assigned to them."""
    return visits_visible_to(principal) if caregiver_id is None else visits_of_caregiver(caregiver_id)


async def _get(session: AsyncSession, visits: Select, visit_id: int, caregiver_id: int | None = None) -> Visit:
    visit = await session.scalar(visits.where(Visit.id == visit_id).execution_options(populate_existing=True))
    if visit is None:
        raise NotFound(
            "no visit {visit_id} that you may see" if caregiver_id is None else "no visit {visit_id} assigned to you",
            visit_id=visit_id,
        )
    return visit


async def get_visit(session: AsyncSession, principal: Principal, visit_id: int) -> Visit:
    return await _get(session, visits_visible_to(principal), visit_id)


async def list_visits(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    elder_id: int | None,
    caregiver_id: int | None,
    status: str | None,
    day: dt.date | None,
) -> list[Visit]:
    # The start, then the id for visits that start together.
    query = keyset(
        visits_visible_to(principal),
        (Visit.starts_at, Visit.id),
        page,
        cast=(dt.datetime.fromisoformat, int),
        descending=True,
    )
    if elder_id is not None:
        query = query.where(Visit.elder_id == elder_id)
    if caregiver_id is not None:
        query = query.where(Visit.caregiver_id == caregiver_id)
    if status is not None:
        query = query.where(Visit.status == status)
    if day is not None:
        start = dt.datetime.combine(day, dt.time(0), tzinfo=clock.SHANGHAI)
        query = query.where(Visit.starts_at >= start, Visit.starts_at < start + dt.timedelta(days=1))
    return list(await session.scalars(query))


async def _check_caregiver(session: AsyncSession, caregiver_id: int, visit: Visit) -> Caregiver:
    caregiver = await session.get(Caregiver, caregiver_id)
    if caregiver is None or not caregiver.is_active:
        raise NotFound("no active caregiver {caregiver_id}", caregiver_id=caregiver_id)
    visit_day = visit.ends_at.astimezone(clock.SHANGHAI).date()
    if caregiver.certificate_expires_on < visit_day:
        raise Conflict(
            "caregiver {caregiver_id}'s certificate expires on {certificate_expires_on}, before the visit on {visit_day}",
            resource=f"caregivers/{caregiver_id}",
            caregiver_id=caregiver_id,
            certificate_expires_on=caregiver.certificate_expires_on.isoformat(),
            visit_day=visit_day.isoformat(),
        )
    overlapping = await session.scalar(
        select(Visit.id)
        .where(
            Visit.caregiver_id == caregiver_id,
            Visit.id != visit.id,
            Visit.status.in_(BOOKED_STATES),
            Visit.starts_at < visit.ends_at,
            Visit.ends_at > visit.starts_at,
        )
        .limit(1)
    )
    if overlapping is not None:
        raise Conflict(
            "caregiver {caregiver_id} is booked for visit {overlapping} at that time",
            resource=f"visits/{overlapping}",
            caregiver_id=caregiver_id,
            overlapping=overlapping,
        )
    return caregiver


async def _outside_area(session: AsyncSession, caregiver: Caregiver, visit: Visit) -> tuple[Conflict | None, str]:
    """A 409 when the caregiver's provider works outside the person's area (their usual area), and that area."""
    provider_area, elder_area = (
        await session.execute(
            select(
                select(Provider.area_code).where(Provider.id == caregiver.provider_id).scalar_subquery(),
                select(Elder.area_code).where(Elder.id == visit.elder_id).scalar_subquery(),
            )
        )
    ).one()
    if covers(provider_area, elder_area):
        return None, elder_area
    return Conflict(
        "caregiver {caregiver_id} works in area {provider_area} (provider {provider_id}), outside the person's area {elder_area}",
        resource=f"caregivers/{caregiver.id}",
        caregiver_id=caregiver.id,
        provider_area=provider_area,
        provider_id=caregiver.provider_id,
        elder_area=elder_area,
    ), elder_area


async def _book(
    session: AsyncSession, principal: Principal, visit: Visit, caregiver_id: int, override_reason: str | None
) -> None:
    """Assign the caregiver; the database refuses an overlap that slipped past the check (a race). A caregiver
    from outside the person's area is a 409, unless staff with the override scope give a reason (audited)."""
    caregiver = await _check_caregiver(session, caregiver_id, visit)
    outside, elder_area = await _outside_area(session, caregiver, visit)
    if outside is not None:
        if override_reason is None:
            raise outside
        if not principal.has(OVERRIDES_WRITE):
            raise Forbidden(
                "booking a caregiver from outside the person's area needs {OVERRIDES_WRITE}",
                OVERRIDES_WRITE=OVERRIDES_WRITE,
            )
        overrides.may_override(principal, elder_area)
    visit.caregiver_id = caregiver_id
    visit.status = "scheduled"
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "caregiver {caregiver_id} was just booked for an overlapping visit",
            resource=f"caregivers/{caregiver_id}",
            caregiver_id=caregiver_id,
        ) from None
    if outside is not None:
        await overrides.record(
            session,
            principal,
            action="home_visit_outside_area",
            resource=f"visits/{visit.id}",
            conflict=outside.resource,
            conflict_detail=outside.detail,
            reason=override_reason,
            area_code=elder_area,
        )


async def order_visit(
    session: AsyncSession, principal: Principal, data: VisitIn, *, open_visit_quota: int, horizon_days: int
) -> Visit:
    if data.starts_at > utcnow() + dt.timedelta(days=horizon_days):
        raise InvalidInput(
            "starts_at", "a visit is booked at most {horizon_days} days ahead", horizon_days=horizon_days
        )
    await check_open_visits(session, principal, open_visit_quota)
    elder = await get_visible(session, principal, data.elder_id)
    item = await session.get(HomeService, data.service_id)
    if item is None or not item.is_active:
        raise NotFound("no service {service_id} in the catalogue", service_id=data.service_id)
    ends_at = data.ends_at or data.starts_at + dt.timedelta(minutes=item.duration_minutes)
    if ends_at <= data.starts_at:
        raise InvalidInput("ends_at", "a visit ends after it starts")
    if ends_at - data.starts_at > dt.timedelta(hours=12):
        raise InvalidInput("ends_at", "a visit lasts at most 12 hours")
    if data.starts_at < utcnow() - dt.timedelta(minutes=5):
        raise InvalidInput("starts_at", "a visit is booked for a time to come")
    visit = Visit(
        elder_id=elder.id,
        service_id=item.id,
        starts_at=data.starts_at,
        ends_at=ends_at,
        price_fen=item.price_fen,
        status="requested",
        flags=[],
        ordered_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(visit)
    await session.flush()
    if data.caregiver_id is not None:
        if principal.kind != "staff":
            raise Forbidden("caregivers are assigned by staff")
        await _book(session, principal, visit, data.caregiver_id, data.override_reason)
    return visit


async def schedule(
    session: AsyncSession, principal: Principal, visit_id: int, caregiver_id: int, override_reason: str | None = None
) -> Visit:
    visit = await get_visit(session, principal, visit_id)
    if visit.status not in ("requested", "scheduled"):
        raise Conflict(
            "visit {visit_id} is {visit_status}; only a visit not yet started is (re)scheduled",
            resource=f"visits/{visit_id}",
            visit_id=visit_id,
            visit_status=visit.status,
        )
    await _book(session, principal, visit, caregiver_id, override_reason)
    return visit


async def cancel(session: AsyncSession, principal: Principal, visit_id: int) -> Visit:
    visit = await get_visit(session, principal, visit_id)
    done = await session.execute(
        update(Visit)
        .where(Visit.id == visit_id, Visit.status.in_(("requested", "scheduled")))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(
            "visit {visit_id} is {visit_status}; it can no longer be cancelled",
            resource=f"visits/{visit_id}",
            visit_id=visit_id,
            visit_status=visit.status,
        )
    return await get_visit(session, principal, visit_id)


async def _home(session: AsyncSession, visit: Visit) -> tuple[float | None, float | None]:
    row = (await session.execute(select(Elder.latitude, Elder.longitude).where(Elder.id == visit.elder_id))).one()
    return row.latitude, row.longitude


def _distance_flag(
    home: tuple[float | None, float | None], pos: Position, radius_m: float, label: str
) -> tuple[float | None, list[str]]:
    """Flag a position farther from home than the radius plus the GPS accuracy (the phone may be that far off)."""
    if home[0] is None:
        return None, [f"{label}_home_unknown"]
    distance = round(distance_m(home[0], home[1], pos.latitude, pos.longitude), 1)
    return distance, [f"{label}_far_from_home"] if distance > radius_m + pos.accuracy_m else []


def _assigned_to(caregiver_id: int | None) -> list:
    return [] if caregiver_id is None else [Visit.caregiver_id == caregiver_id]


def _refuse_future(at: dt.datetime, field: str) -> None:
    """A check-in or check-out time, the phone's or a correction's, is not a time to come (5 minutes for a phone's
    clock): a check-out corrected to 2190 would keep the record from ever locking."""
    if at > utcnow() + dt.timedelta(minutes=5):
        raise InvalidInput(field, "is in the future")


def _timing_flags(visit: Visit, at: dt.datetime, evv: Evv) -> list[str]:
    """A check-in outside the window around the scheduled start (a caregiver checking in hours ahead, or long
    after, has not shown the visit took place as booked)."""
    if at < visit.starts_at - evv.early:
        return ["check_in_early"]
    if at > visit.starts_at + evv.late:
        return ["check_in_late"]
    return []


def _duration_flags(visit: Visit, at: dt.datetime, evv: Evv) -> list[str]:
    """A visit much shorter than booked (a 50-second bath) is not verified as the service paid for."""
    return ["too_short"] if at - visit.check_in_at < (visit.ends_at - visit.starts_at) * evv.min_duration_share else []


async def check_in(
    session: AsyncSession,
    principal: Principal,
    visit_id: int,
    pos: Position,
    *,
    evv: Evv,
    caregiver_id: int | None = None,
) -> Visit:
    """`caregiver_id`: the caller is that caregiver (the app); the visit must be assigned to them, also at the
    moment of the conditional update (a visit rescheduled to someone else in between is not theirs)."""
    visits = _acting_on(principal, caregiver_id)
    visit = await _get(session, visits, visit_id, caregiver_id)
    if visit.status != "scheduled":
        raise Conflict(
            "visit {visit_id} is {visit_status}; only a scheduled visit is checked in",
            resource=f"visits/{visit_id}",
            visit_id=visit_id,
            visit_status=visit.status,
        )
    _refuse_if_locked(visit)
    _refuse_future(pos.at, "at")
    distance, flags = _distance_flag(await _home(session, visit), pos, evv.radius_m, "check_in")
    flags = sorted(flags + _timing_flags(visit, pos.at, evv))
    done = await session.execute(
        update(Visit)
        .where(Visit.id == visit_id, Visit.status == "scheduled", *_assigned_to(caregiver_id))
        .values(
            status="checked_in",
            check_in_at=pos.at,
            check_in_latitude=pos.latitude,
            check_in_longitude=pos.longitude,
            check_in_accuracy_m=pos.accuracy_m,
            check_in_distance_m=distance,
            flags=flags,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(
            "visit {visit_id} was just checked in, marked missed or rescheduled",
            resource=f"visits/{visit_id}",
            visit_id=visit_id,
        )
    return await _get(session, visits, visit_id, caregiver_id)


async def _settle(session: AsyncSession, visit: Visit, by: str) -> int | None:
    """A verified visit has one live draw from the person's subsidy; a flagged one none (a draw it had, before a
    correction to flagged, is reversed). The caller holds the visit's row."""
    return await settle_visit(
        session,
        elder_id=visit.elder_id,
        visit_id=visit.id,
        price_fen=visit.price_fen,
        verified=visit.status == "verified",
        by=by,
    )


async def check_out(
    session: AsyncSession,
    principal: Principal,
    visit_id: int,
    pos: Position,
    *,
    evv: Evv,
    caregiver_id: int | None = None,
) -> tuple[Visit, int | None]:
    """`caregiver_id`: as for check_in."""
    visits = _acting_on(principal, caregiver_id)
    visit = await _get(session, visits, visit_id, caregiver_id)
    if visit.status != "checked_in":
        raise Conflict(
            "visit {visit_id} is {visit_status}: there is no check-in to check out from",
            resource=f"visits/{visit_id}",
            visit_id=visit_id,
            visit_status=visit.status,
        )
    _refuse_if_locked(visit)
    _refuse_future(pos.at, "at")
    if pos.at <= visit.check_in_at:
        raise InvalidInput("at", "check-out comes after the check-in")
    distance, flags = _distance_flag(await _home(session, visit), pos, evv.radius_m, "check_out")
    flags = sorted(set(visit.flags or []) | set(flags) | set(_duration_flags(visit, pos.at, evv)))
    status = "flagged" if flags else "verified"
    done = await session.execute(
        update(Visit)
        .where(Visit.id == visit_id, Visit.status == "checked_in", *_assigned_to(caregiver_id))
        .values(
            status=status,
            check_out_at=pos.at,
            check_out_latitude=pos.latitude,
            check_out_longitude=pos.longitude,
            check_out_accuracy_m=pos.accuracy_m,
            check_out_distance_m=distance,
            flags=flags,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict("visit {visit_id} was just checked out", resource=f"visits/{visit_id}", visit_id=visit_id)
    visit = await _get(session, visits, visit_id, caregiver_id)
    if visit.status == "flagged":  # not verified: the carers hear of it
        await notices.visit_unverified(session, visit)
    return visit, await _settle(session, visit, principal.subject)


async def mark_missed(session: AsyncSession, principal: Principal) -> list[int]:
    """Visits of the caller's area with no check-in 30 minutes after their start become missed. Conditional on
    the status, so a second run (or two at once) marks nothing twice."""
    now = utcnow()
    elders = visible_to(principal).with_only_columns(Elder.id)
    marked = (
        (
            await session.execute(
                update(Visit)
                .where(Visit.status == "scheduled", Visit.starts_at <= now - MISSED_AFTER, Visit.elder_id.in_(elders))
                .values(status="missed", missed_at=now)
                .returning(Visit.id)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    for visit in await session.scalars(select(Visit).where(Visit.id.in_(marked))):
        await notices.visit_missed(session, visit)
    return sorted(marked)


def _refuse_if_locked(visit: Visit) -> None:
    if is_locked(visit):
        after = N_("check-out") if visit.check_out_at else N_("its scheduled end (never checked out)")
        raise Conflict(
            "visit {visit_id} locked on {locked_on}, 30 days after {after}; it changes only by a correction by staff",
            resource=f"visits/{visit.id}",
            visit_id=visit.id,
            locked_on=locks_at(visit).astimezone(clock.SHANGHAI).date().isoformat(),  # the day in Ningbo, not UTC
            after=after,
        )


async def rate(session: AsyncSession, principal: Principal, visit_id: int, rating: int, comment: str | None) -> Visit:
    visit = await get_visit(session, principal, visit_id)
    if visit.status not in ("verified", "flagged"):
        raise Conflict(
            "visit {visit_id} is {visit_status}; a visit is rated after check-out",
            resource=f"visits/{visit_id}",
            visit_id=visit_id,
            visit_status=visit.status,
        )
    _refuse_if_locked(visit)
    visit.rating, visit.rating_comment = rating, comment
    await session.flush()
    return visit


def _snapshot(visit: Visit, fields: list[str]) -> dict:
    return {f: (v.isoformat() if isinstance(v := getattr(visit, f), dt.datetime) else v) for f in fields}


async def correct(
    session: AsyncSession, principal: Principal, visit_id: int, data: CorrectionIn
) -> tuple[VisitCorrection, Visit, int | None]:
    """Staff change a visit record; the values before and after are kept with who, when and why."""
    if principal.kind != "staff":
        raise Forbidden("visit records are corrected by staff")
    await get_visit(session, principal, visit_id)
    # The visit's row, locked and read again: corrections of one visit, and its check-out, go one after another, so
    # its draw is given back or taken again by one of them at a time.
    visit = (
        await session.execute(
            select(Visit).where(Visit.id == visit_id).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one()
    changes = {k: v for k, v in data.model_dump(exclude={"reason"}).items() if v is not None}
    if not changes:
        raise InvalidInput("reason", "name at least one field to correct (status, check_in_at, check_out_at)")
    for field in ("check_in_at", "check_out_at"):
        if field in changes:
            _refuse_future(changes[field], field)
    if visit.check_in_at is None and ("check_out_at" in changes or "status" in changes):
        raise BadRequest("visit {visit_id} was never checked in; a correction cannot invent a visit", visit_id=visit_id)
    check_in = changes.get("check_in_at", visit.check_in_at)
    check_out = changes.get("check_out_at", visit.check_out_at)
    times_changed = "check_in_at" in changes or "check_out_at" in changes
    if times_changed and check_in is not None and check_out is not None and check_out <= check_in:
        raise InvalidInput("check_out_at", "check-out comes after the check-in")
    fields = sorted(changes)
    before = _snapshot(visit, fields)
    for field, value in changes.items():
        setattr(visit, field, value)
    if changes.get("status") == "verified":
        visit.flags = []
    correction = VisitCorrection(
        visit_id=visit.id,
        reason=data.reason,
        before=before,
        after=_snapshot(visit, fields),
        corrected_by=principal.subject,
        corrected_at=utcnow(),
    )
    session.add(correction)
    await session.flush()
    return correction, visit, await _settle(session, visit, principal.subject)


async def corrections(session: AsyncSession, principal: Principal, visit_id: int) -> list[VisitCorrection]:
    await get_visit(session, principal, visit_id)
    return list(
        await session.scalars(
            select(VisitCorrection).where(VisitCorrection.visit_id == visit_id).order_by(VisitCorrection.id)
        )
    )
