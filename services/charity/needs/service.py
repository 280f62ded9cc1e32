"""Needs, offers and matches: proposals ranked by area, quantity and expiry; confirmed under conditional updates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.needs.models import Match, Need, ResourceOffer
from services.charity.needs.schemas import DeliveryIn, MatchIn, NeedIn, NeedOut, OfferIn, OfferOut, Proposal
from shared import clock
from shared.areas import area_prefix, check_area, within_area
from shared.db import get_or_404, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.idnumbers import mask_phone
from shared.pagination import PageParams, keyset

AREA_LEVELS = {2: "province", 4: "city", 6: "district", 9: "street", 12: "community"}


def need_out(need: Need, today: dt.date | None = None) -> NeedOut:
    """Computed: the status, from the quantities and the deadline."""
    today = today or clock.today()
    if need.fulfilled_quantity >= need.quantity:
        status = "fulfilled"
    elif need.matched_quantity >= need.quantity:
        status = "matched"
    else:
        status = "expired" if need.deadline < today else "open"
    return NeedOut(
        id=need.id,
        area_code=need.area_code,
        category=need.category,
        title=need.title,
        description=need.description,
        quantity=need.quantity,
        unit=need.unit,
        urgency=need.urgency,
        deadline=need.deadline,
        matched_quantity=need.matched_quantity,
        fulfilled_quantity=need.fulfilled_quantity,
        status=status,
        created_at=need.created_at,
    )


def offer_out(offer: ResourceOffer) -> OfferOut:
    """Computed: the contact phone masked and the quantity still free."""
    return OfferOut(
        id=offer.id,
        offerer_kind=offer.offerer_kind,
        offerer_name=offer.offerer_name,
        contact_phone_masked=mask_phone(offer.contact_phone),
        area_code=offer.area_code,
        category=offer.category,
        description=offer.description,
        quantity=offer.quantity,
        unit=offer.unit,
        available_until=offer.available_until,
        allocated_quantity=offer.allocated_quantity,
        remaining_quantity=offer.quantity - offer.allocated_quantity,
    )


async def publish(session: AsyncSession, principal: Principal, data: NeedIn) -> Need:
    principal.check_covers(data.area_code)
    check_area(data.area_code, "area_code")  # a community no division has: seen by no community's staff
    if data.deadline < clock.today():
        raise InvalidInput("deadline", "cannot be in the past")
    need = Need(
        **data.model_dump(),
        matched_quantity=0,
        fulfilled_quantity=0,
        published_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(need)
    await session.flush()
    return need


async def get_need(session: AsyncSession, need_id: int) -> Need:
    need = await get_or_404(session, Need, need_id, "no need {need_id}", populate_existing=True, need_id=need_id)
    return need


async def list_needs(
    session: AsyncSession, page: PageParams, *, area: str | None, category: str | None, open_only: bool
) -> list[Need]:
    query = keyset(select(Need), Need.id, page)
    if area:
        query = query.where(within_area(Need.area_code, area))
    if category:
        query = query.where(Need.category == category)
    if open_only:
        query = query.where(Need.matched_quantity < Need.quantity, Need.deadline >= clock.today())
    return list(await session.scalars(query))


async def offer(session: AsyncSession, principal: Principal, data: OfferIn) -> ResourceOffer:
    check_area(data.area_code, "area_code")
    if data.available_until < clock.today():
        raise InvalidInput("available_until", "cannot be in the past")
    row = ResourceOffer(**data.model_dump(), subject=principal.subject, allocated_quantity=0, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


def _may_see_offer(principal: Principal, offer: ResourceOffer) -> bool:
    return (
        offer.subject == principal.subject
        or principal.covers(offer.area_code)
        or (principal.is_area_staff and offer.area_code in ancestors(principal.area))
    )


async def get_offer(session: AsyncSession, principal: Principal, offer_id: int) -> ResourceOffer:
    row = await session.get(ResourceOffer, offer_id, populate_existing=True)
    if row is None or not _may_see_offer(principal, row):
        raise NotFound("no offer {offer_id} that you may see", offer_id=offer_id)
    return row


async def list_offers(session: AsyncSession, principal: Principal, page: PageParams) -> list[ResourceOffer]:
    """Staff see offers deliverable in their area (within it, or covering it); others their own offers."""
    query = keyset(select(ResourceOffer), ResourceOffer.id, page)
    if principal.is_area_staff:
        query = query.where(
            or_(
                within_area(ResourceOffer.area_code, principal.area),
                ResourceOffer.area_code.in_(ancestors(principal.area)),
            )
        )
    else:
        query = query.where(ResourceOffer.subject == principal.subject)
    return list(await session.scalars(query))


def ancestors(code: str) -> set[str]:
    """The division codes an area lies in, itself included, as stored: 330212001001 -> 330000, 330200, 330212,
    330212001, 330212001001."""
    return {code[:n].ljust(6, "0") if n < 6 else code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)}


def _covers(offer_area: str, need_area: str) -> bool:
    """An offer deliverable in an area reaches every need within it."""
    return need_area.startswith(area_prefix(offer_area))


def rank(need: Need, offers: list[ResourceOffer], today: dt.date) -> list[Proposal]:
    """Same category, still available, with something left, deliverable where the need is; nearest area first,
    then an offer covering the whole remaining need, then the one expiring soonest."""
    wanted = need.quantity - need.matched_quantity
    proposals = []
    for o in offers:
        left = o.quantity - o.allocated_quantity
        if (
            o.category != need.category
            or left <= 0
            or o.available_until < today
            or not _covers(o.area_code, need.area_code)
        ):
            continue
        level = len(area_prefix(o.area_code))
        covers_all = left >= wanted
        score = level * 100 + (50 if covers_all else 0) + max(0, 30 - (o.available_until - today).days // 7)
        reasons = [
            f"same category ({need.category})",
            f"deliverable in its {AREA_LEVELS.get(level, 'area')} ({o.area_code})",
            f"covers all {wanted} {need.unit}" if covers_all else f"covers {left} of {wanted} {need.unit}",
            f"available until {o.available_until.isoformat()}",
        ]
        proposals.append(
            Proposal(offer=offer_out(o), score=score, proposed_quantity=min(left, wanted), reasons=reasons)
        )
    return sorted(proposals, key=lambda p: (-p.score, p.offer.id))


async def proposals(session: AsyncSession, principal: Principal, need_id: int, limit: int) -> list[Proposal]:
    need = await get_need(session, need_id)
    if not principal.covers(need.area_code):
        raise NotFound("no need {need_id} of your area", need_id=need_id)
    today = clock.today()
    if need.matched_quantity >= need.quantity or need.deadline < today:  # matched, or expired: nothing to propose
        return []
    # Candidates by the index (category, area): offers whose area is one of the need's ancestors or itself.
    offers = list(
        await session.scalars(
            select(ResourceOffer).where(
                ResourceOffer.category == need.category,
                ResourceOffer.area_code.in_(ancestors(need.area_code)),
                ResourceOffer.available_until >= today,
                ResourceOffer.allocated_quantity < ResourceOffer.quantity,
            )
        )
    )
    return rank(need, offers, today)[:limit]


async def confirm(session: AsyncSession, principal: Principal, data: MatchIn) -> Match:
    try:
        need = await get_need(session, data.need_id)
    except NotFound:
        raise InvalidInput("need_id", "no such need") from None
    if not principal.covers(need.area_code):
        raise InvalidInput("need_id", "not a need of your area")
    row = await session.get(ResourceOffer, data.offer_id)
    if row is None:
        raise InvalidInput("offer_id", "no such offer")
    if row.category != need.category or not _covers(row.area_code, need.area_code):
        raise InvalidInput("offer_id", "the offer's category or area does not fit the need")
    if need.deadline < clock.today():
        # As for an expired offer: its goods would go to a need nobody waits for any more.
        raise Conflict(
            "need {need_id} expired on {deadline}",
            resource=f"needs/{need.id}",
            need_id=need.id,
            deadline=need.deadline.isoformat(),
        )
    if row.available_until < clock.today():
        raise Conflict("the offer has expired", resource=f"resource-offers/{row.id}")
    q = data.quantity
    # Two conditional updates: of concurrent confirmations, those that would over-match either side fail,
    # and the request's transaction (both updates or none) rolls back.
    took_need = await session.execute(
        update(Need)
        .where(Need.id == need.id, Need.matched_quantity + q <= Need.quantity)
        .values(matched_quantity=Need.matched_quantity + q)
        .execution_options(synchronize_session=False)
    )
    if took_need.rowcount != 1:
        raise Conflict(
            "need {need_id} has less than {q} {unit} left to match",
            resource=f"needs/{need.id}",
            need_id=need.id,
            q=q,
            unit=need.unit,
        )
    took_offer = await session.execute(
        update(ResourceOffer)
        .where(ResourceOffer.id == row.id, ResourceOffer.allocated_quantity + q <= ResourceOffer.quantity)
        .values(allocated_quantity=ResourceOffer.allocated_quantity + q)
        .execution_options(synchronize_session=False)
    )
    if took_offer.rowcount != 1:
        raise Conflict(
            "offer {row_id} has less than {q} {unit} left",
            resource=f"resource-offers/{row.id}",
            row_id=row.id,
            q=q,
            unit=row.unit,
        )
    match = Match(
        need_id=need.id,
        offer_id=row.id,
        quantity=q,
        delivered_quantity=0,
        confirmed_by=principal.subject,
        confirmed_at=utcnow(),
    )
    session.add(match)
    await session.flush()
    return match


async def deliver(session: AsyncSession, principal: Principal, match_id: int, data: DeliveryIn) -> Match:
    match = await get_or_404(session, Match, match_id, "no match {match_id}", match_id=match_id)
    need = await get_need(session, match.need_id)
    if not principal.covers(need.area_code):
        raise NotFound("no match {match_id} of your area", match_id=match_id)
    q = data.quantity
    done = await session.execute(
        update(Match)
        .where(Match.id == match.id, Match.delivered_quantity + q <= Match.quantity)
        .values(delivered_quantity=Match.delivered_quantity + q)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(
            "match {match_id} has less than {q} left to deliver", resource=f"matches/{match.id}", match_id=match.id, q=q
        )
    await session.execute(
        update(Need)
        .where(Need.id == need.id)
        .values(fulfilled_quantity=Need.fulfilled_quantity + q)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(match)
    return match
