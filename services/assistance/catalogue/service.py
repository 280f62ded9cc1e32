"""The assistance service catalogue (救助服务目录) and matching services to households by need."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.catalogue.models import CatalogueService, HouseholdNeed, ServiceMatch
from services.assistance.catalogue.schemas import (
    CatalogueServiceIn,
    HouseholdNeedsOut,
    MatchOut,
    MatchRequest,
    NeedIn,
    NeedOut,
)
from services.assistance.discovery.models import Signal
from services.assistance.households import service as households
from services.assistance.households.membership import age_on
from services.assistance.households.models import Member
from services.assistance.programmes import service as programmes
from shared import clock
from shared.areas import area_prefix, check_area, within_area
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset

LOW_INCOME_PROGRAMMES = frozenset({"dibao", "dibao_marginal", "tekun"})
# Allowed moves of a match; anything else is a 409.
TRANSITIONS = {"proposed": {"accepted", "declined"}, "accepted": {"delivered", "declined"}}


def match_out(match: ServiceMatch, service_name: str) -> MatchOut:
    return MatchOut(
        id=match.id,
        service_id=match.service_id,
        service_name=service_name,
        household_id=match.household_id,
        area_code=match.area_code,
        state=match.state,
        needs_met=match.needs_met,
        note=match.note,
        created_at=match.created_at,
        updated_at=match.updated_at,
    )


async def add_service(session: AsyncSession, principal: Principal, data: CatalogueServiceIn) -> CatalogueService:
    principal.check_covers(data.area_code)
    check_area(data.area_code, "area_code")  # a community no division has would serve no household
    row = CatalogueService(**data.model_dump(), active=True, created_by=principal.subject, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


def _ancestors(code: str) -> list[str]:
    """The stored codes of the areas containing `code`: city 330200, district, street (as 6, 9, 12 digits)."""
    prefix = area_prefix(code)
    found = [prefix[:4] + "00"]
    found += [prefix[:n] for n in (6, 9, 12) if len(prefix) >= n]
    return found


def _offered_in(code: str):
    """Services whose area contains `code` or lies within it."""
    return CatalogueService.area_code.in_(_ancestors(code)) | within_area(CatalogueService.area_code, code)


async def list_services(
    session: AsyncSession, principal: Principal, page: PageParams, *, area_code: str | None, category: str | None
) -> list[CatalogueService]:
    """Services offered in the caller's area: those of an area above it (e.g. city-wide) or within it."""
    if not principal.is_area_staff:
        return []
    query = keyset(select(CatalogueService).where(_offered_in(principal.area)), CatalogueService.id, page)
    if area_code:
        query = query.where(_offered_in(area_code))
    if category:
        query = query.where(CatalogueService.category == category)
    return list(await session.scalars(query))


async def needs_of(session: AsyncSession, household_id: int, members: list[Member]) -> set[str]:
    """The household's needs: derived from its members, its programmes and recent partner signals, and those a
    worker recorded on a visit."""
    return await derived_needs(session, household_id, members) | set(
        await session.scalars(select(HouseholdNeed.need).where(HouseholdNeed.household_id == household_id))
    )


async def derived_needs(session: AsyncSession, household_id: int, members: list[Member]) -> set[str]:
    """The needs the register shows: members' ages and disabilities, programmes, recent partner signals."""
    today = clock.today()
    ages = [age_on(m.birth_on, today) for m in members]
    needs: set[str] = set()
    if any(a >= 60 for a in ages):
        needs.add("older_person")
        if len(members) <= 2 and all(a >= 60 for a in ages):
            needs.add("lives_alone_or_elderly_couple")
    if any(m.disability_grade is not None for m in members):
        needs.add("disability")
    if any(m.disability_grade in (1, 2) for m in members):
        needs.add("severe_disability")
    if any(a < 18 for a in ages):
        needs.add("child")
    if any(m.full_time_student for m in members):
        needs.add("student")
    if any(m.labour_capacity == "none" and 18 <= a < 60 for m, a in zip(members, ages, strict=False)):
        needs.add("unable_to_work")
    current = await programmes.current_of(session, [m.id_number for m in members], today)
    if any(p & LOW_INCOME_PROGRAMMES for p in current.values()):
        needs.add("low_income")
    recent = await session.scalar(
        select(Signal.id)
        .where(
            Signal.household_id == household_id,
            Signal.kind.in_(("disaster", "housing_change")),
            Signal.occurred_on >= today - dt.timedelta(days=365),
        )
        .limit(1)
    )
    if recent is not None:
        needs.add("housing")
    return needs


async def match(session: AsyncSession, principal: Principal, data: MatchRequest) -> list[tuple[ServiceMatch, str]]:
    household = await households.get_visible(session, principal, data.household_id)
    members = await households.members_of(session, household.id)
    needs = await needs_of(session, household.id, members)
    query = select(CatalogueService).where(CatalogueService.active.is_(True)).order_by(CatalogueService.id)
    if data.service_id is not None:
        query = query.where(CatalogueService.id == data.service_id)
    candidates = [s for s in await session.scalars(query) if household.area_code.startswith(area_prefix(s.area_code))]
    if data.service_id is not None and not candidates:
        raise InvalidInput(
            "service_id",
            "no active service {service_id} offered in area {area_code}",
            service_id=data.service_id,
            area_code=household.area_code,
        )
    open_ones = set(
        await session.scalars(
            select(ServiceMatch.service_id).where(
                ServiceMatch.household_id == household.id, ServiceMatch.state.in_(("proposed", "accepted"))
            )
        )
    )
    created = []
    now = utcnow()
    for candidate in candidates:
        met = sorted(needs & set(candidate.needs))
        if not met:
            if data.service_id is not None:
                raise InvalidInput(
                    "service_id",
                    "the household has none of the needs the service answers ({answered}); its needs: {needs}",
                    answered=", ".join(candidate.needs),
                    needs=", ".join(sorted(needs)) or "-",
                )
            continue
        if candidate.id in open_ones:
            if data.service_id is not None:
                raise Conflict(
                    "the household already has an open match with service {candidate_id}",
                    resource=f"households/{household.id}",
                    candidate_id=candidate.id,
                )
            continue
        row = ServiceMatch(
            service_id=candidate.id,
            household_id=household.id,
            area_code=household.area_code,
            state="proposed",
            needs_met=met,
            created_by=principal.subject,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        created.append((row, candidate.name))
    await session.flush()
    return created


async def _visible_match(session: AsyncSession, principal: Principal, match_id: int) -> tuple[ServiceMatch, str]:
    row = (
        await session.execute(
            select(ServiceMatch, CatalogueService.name)
            .join(CatalogueService, CatalogueService.id == ServiceMatch.service_id)
            .where(ServiceMatch.id == match_id)
        )
    ).first()
    if row is None or not principal.covers(row[0].area_code):
        raise NotFound("no service match {match_id} that you may see", match_id=match_id)
    return row[0], row[1]


async def move(
    session: AsyncSession, principal: Principal, match_id: int, state: str, note: str | None
) -> tuple[ServiceMatch, str]:
    row, name = await _visible_match(session, principal, match_id)
    if state not in TRANSITIONS.get(row.state, set()):
        raise Conflict(
            "a {state} match cannot become {state2}",
            resource=f"service-matches/{row.id}",
            state=row.state,
            state2=state,
        )
    moved = await session.execute(
        update(ServiceMatch)
        .where(ServiceMatch.id == row.id, ServiceMatch.state == row.state)
        .values(state=state, note=note, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict("the match was changed by someone else; reload it", resource=f"service-matches/{row.id}")
    await session.refresh(row)
    return row, name


async def list_matches(
    session: AsyncSession, principal: Principal, page: PageParams, *, household_id: int | None, state: str | None
) -> list[tuple[ServiceMatch, str]]:
    if not principal.is_area_staff:
        return []
    query = keyset(
        select(ServiceMatch, CatalogueService.name)
        .join(CatalogueService, CatalogueService.id == ServiceMatch.service_id)
        .where(within_area(ServiceMatch.area_code, principal.area)),
        ServiceMatch.id,
        page,
    )
    if household_id is not None:
        query = query.where(ServiceMatch.household_id == household_id)
    if state:
        query = query.where(ServiceMatch.state == state)
    return [(m, n) for m, n in await session.execute(query)]


async def record_need(session: AsyncSession, principal: Principal, household_id: int, data: NeedIn) -> None:
    """Record a need found on a visit; the same need twice is a 409 (the unique key holds it under races)."""
    household = await households.get_visible(session, principal, household_id, for_update=True)
    known = await session.scalar(
        select(HouseholdNeed.id).where(HouseholdNeed.household_id == household.id, HouseholdNeed.need == data.need)
    )
    if known is not None:
        raise Conflict(
            "the need {need} is already recorded for household {household_id}",
            resource=f"households/{household.id}/needs",
            need=data.need,
            household_id=household.id,
        )
    session.add(
        HouseholdNeed(
            household_id=household.id,
            need=data.need,
            note=data.note.strip(),
            recorded_by=principal.subject,
            recorded_at=utcnow(),
        )
    )
    await session.flush()


async def household_needs(session: AsyncSession, principal: Principal, household_id: int) -> HouseholdNeedsOut:
    household = await households.get_visible(session, principal, household_id)
    members = await households.members_of(session, household.id)
    recorded = {
        n.need: n
        for n in await session.scalars(select(HouseholdNeed).where(HouseholdNeed.household_id == household.id))
    }
    derived = await derived_needs(session, household.id, members)
    needs = [
        NeedOut(need=n, basis="derived", note=None, recorded_by=None, recorded_at=None)
        for n in sorted(derived - set(recorded))
    ]
    needs += [
        NeedOut(need=n, basis="recorded", note=r.note, recorded_by=r.recorded_by, recorded_at=r.recorded_at)
        for n, r in sorted(recorded.items())
    ]
    return HouseholdNeedsOut(household_id=household.id, needs=needs)


async def deactivate(session: AsyncSession, principal: Principal, service_id: int) -> CatalogueService:
    """Withdraw a service from the catalogue (the provider stopped offering it): it is proposed no more; matches
    already made keep their course. Only staff whose area includes the service's may withdraw it."""
    row = await session.get(CatalogueService, service_id)
    if row is None or not principal.covers(row.area_code):
        raise NotFound("no catalogue service {service_id} that you may withdraw", service_id=service_id)
    changed = await session.execute(
        update(CatalogueService)
        .where(CatalogueService.id == row.id, CatalogueService.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise Conflict(
            "catalogue service {row_id} is already withdrawn", resource=f"service-catalogue/{row.id}", row_id=row.id
        )
    await session.refresh(row)
    return row
