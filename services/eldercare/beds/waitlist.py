"""The waitlist (轮候): who waits for a bed of a type, in priority order, and the settle job that passes lapsed
offers on. The offer itself is a hold, made by `occupancy.offer_bed`."""

from __future__ import annotations

from sqlalchemy import Select, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.assessment.service import latest_level
from services.eldercare.beds.models import PRIORITY, Bed, BedOccupancy, WaitlistEntry
from services.eldercare.beds.occupancy import expire_lapsed_holds, hold_status, offer_bed
from services.eldercare.beds.schemas import WaitlistIn, WaitlistOut
from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import get_visible, visible_to
from services.eldercare.peers import AssistanceFacts
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal


async def settle_waitlist(session: AsyncSession, *, offer_hours: int, bed_type: str | None = None) -> dict:
    """Lapse the offers past their deadline and offer every free bed to the next person waiting.

    Safe to run at any time and any number of times (by a scheduler, or by staff): it only changes holds past
    their deadline, and offers only beds that are free.
    """
    freed = await expire_lapsed_holds(session, bed_type=bed_type)
    types = [bed_type] if bed_type else ["general", "nursing", "dementia"]
    offers = 0
    for kind in types:
        if (
            await session.scalar(
                select(WaitlistEntry.id)
                .where(WaitlistEntry.status == "waiting", WaitlistEntry.bed_type == kind)
                .limit(1)
            )
            is None
        ):
            continue
        free_beds = await session.scalars(
            select(Bed.id)
            .where(
                Bed.bed_type == kind,
                Bed.in_service.is_(True),
                ~exists().where(BedOccupancy.bed_id == Bed.id, BedOccupancy.status == "active"),
            )
            .order_by(Bed.id)
        )
        for bed_id in list(free_beds):
            if await offer_bed(session, bed_id, offer_hours=offer_hours) is not None:
                offers += 1
    return {"holds_lapsed": len(freed), "offers_made": offers}


def _entry_status(entry: WaitlistEntry, offer: BedOccupancy | None) -> str:
    if entry.status == "offered" and offer is not None and hold_status(offer) == "expired":
        return "lapsed"
    return entry.status


async def add_to_waitlist(
    session: AsyncSession, principal: Principal, data: WaitlistIn, facts: AssistanceFacts, *, offer_hours: int
) -> WaitlistEntry:
    elder = await get_visible(session, principal, data.elder_id)
    if data.assessment_level is not None and principal.kind != "staff":
        # The level ranks the person ahead of others: a family stating 4 (完全失能) for someone never assessed went
        # before everyone assessed at 3. Only staff state a level (an assessment made elsewhere).
        raise InvalidInput(
            "assessment_level",
            "is stated by staff from an assessment; leave it out, and ask the community to assess the person",
        )
    existing = await session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.elder_id == elder.id,
            WaitlistEntry.bed_type == data.bed_type,
            WaitlistEntry.status.in_(("waiting", "offered")),
        )
    )
    if existing is not None:
        raise Conflict(
            "this person is already waiting for a {bed_type} bed",
            resource=f"waitlist/{existing}",
            bed_type=data.bed_type,
        )
    recorded = await latest_level(session, elder.id)
    entry = WaitlistEntry(
        elder_id=elder.id,
        bed_type=data.bed_type,
        district_code=data.district_code,
        is_tekun="tekun" in facts.programmes,
        assessment_level=recorded if recorded is not None else data.assessment_level,
        priority_basis="live" if facts.live else "fallback",
        requested_at=utcnow(),
        status="waiting",
        created_by=principal.subject,
    )
    session.add(entry)
    elder_id = elder.id
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "this person is already waiting for a {bed_type} bed", resource=f"elders/{elder_id}", bed_type=data.bed_type
        ) from None
    # A bed of that type may be free right now: offer it without waiting for the next discharge.
    await settle_waitlist(session, offer_hours=offer_hours, bed_type=data.bed_type)
    await session.refresh(entry)
    return entry


def _waitlist_query(principal: Principal) -> Select:
    elders = visible_to(principal).with_only_columns(Elder.id)
    return (
        select(WaitlistEntry, BedOccupancy)
        .outerjoin(BedOccupancy, BedOccupancy.id == WaitlistEntry.offer_id)
        .where(WaitlistEntry.elder_id.in_(elders))
    )


async def _positions(session: AsyncSession, bed_type: str) -> dict[int, int]:
    ids = await session.scalars(
        select(WaitlistEntry.id)
        .where(WaitlistEntry.status == "waiting", WaitlistEntry.bed_type == bed_type)
        .order_by(*PRIORITY)
    )
    return {entry_id: n for n, entry_id in enumerate(ids, start=1)}


def waitlist_out(entry: WaitlistEntry, offer: BedOccupancy | None, positions: dict[int, int]) -> WaitlistOut:
    """Not a 1:1 mapping: adds the position in the queue, and reads an offer past its deadline as lapsed."""
    status = _entry_status(entry, offer)
    return WaitlistOut(
        id=entry.id,
        elder_id=entry.elder_id,
        bed_type=entry.bed_type,
        district_code=entry.district_code,
        is_tekun=entry.is_tekun,
        assessment_level=entry.assessment_level,
        priority_basis=entry.priority_basis,
        requested_at=entry.requested_at,
        status=status,
        position=positions.get(entry.id) if status == "waiting" else None,
        offer_id=entry.offer_id,
        offer_expires_at=offer.expires_at if offer else None,
    )


async def list_waitlist(session: AsyncSession, principal: Principal, *, bed_type: str, limit: int) -> list[WaitlistOut]:
    """In priority order: those waiting first (in the order beds will be offered), then the rest, newest first."""
    positions = await _positions(session, bed_type)
    rows = (
        await session.execute(
            _waitlist_query(principal)
            .where(WaitlistEntry.bed_type == bed_type)
            .order_by(WaitlistEntry.status != "waiting", *PRIORITY)
            .limit(limit)
        )
    ).all()
    return [waitlist_out(entry, offer, positions) for entry, offer in rows]


async def get_waitlist_entry(session: AsyncSession, principal: Principal, entry_id: int) -> WaitlistOut:
    row = (await session.execute(_waitlist_query(principal).where(WaitlistEntry.id == entry_id))).first()
    if row is None:
        raise NotFound("no waitlist entry {entry_id} that you may see", entry_id=entry_id)
    entry, offer = row
    return waitlist_out(entry, offer, await _positions(session, entry.bed_type))


async def withdraw(session: AsyncSession, principal: Principal, entry_id: int) -> WaitlistOut:
    row = (await session.execute(_waitlist_query(principal).where(WaitlistEntry.id == entry_id))).first()
    if row is None:
        raise NotFound("no waitlist entry {entry_id} that you may see", entry_id=entry_id)
    entry, _offer = row
    done = await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == "waiting")
        .values(status="withdrawn")
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(
            "waitlist entry {entry_id} is {entry_status}; only a waiting entry can be withdrawn (an offer is "
            "declined by releasing its hold)",
            resource=f"waitlist/{entry_id}",
            entry_id=entry_id,
            entry_status=entry.status,
        )
    await session.refresh(entry)
    return await get_waitlist_entry(session, principal, entry_id)
