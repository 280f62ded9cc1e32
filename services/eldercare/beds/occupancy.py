"""Holds (预留, with a deadline that lapses by itself) and admissions (入住) of a person to a bed, discharge, and the
offer of a freed bed to the first person waiting for it (an offer is a hold made for them).

The invariants live in bed_occupancies' partial unique indexes (see models.py); the code checks first only
to give a readable 409, and turns the index's refusal under a race into the same 409.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Executable, Select, and_, bindparam, exists, null, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare import notices
from services.eldercare.beds.models import PRIORITY, Bed, BedOccupancy, Institution, WaitlistEntry
from services.eldercare.beds.schemas import AdmissionIn, EmergencyAdmissionIn, HoldIn, HoldOut
from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import visible_to
from services.eldercare.overrides import service as overrides
from services.eldercare.peers import no_such_elder
from services.eldercare.quotas import bed_holds_held, check_bed_holds
from shared import clock, direct
from shared.areas import within_area
from shared.db import Columns, Database, PerCaller, get_or_404, read_row, utcnow
from shared.direct import Inserter, Link
from shared.errors import Conflict, Forbidden, NotFound
from shared.i18n import N_
from shared.idempotency import key_params, key_used
from shared.identity import Principal
from shared.metrics import count_after_commit
from shared.pagination import PageParams, keyset


def live_now(now: dt.datetime):
    """An occupancy that holds its bed right now: an admission, or a hold before its deadline."""
    return and_(BedOccupancy.status == "active", or_(BedOccupancy.kind == "admission", BedOccupancy.expires_at > now))


def hold_status(hold: BedOccupancy, now: dt.datetime | None = None) -> str:
    if hold.status == "active" and hold.expires_at <= (now or utcnow()):
        return "expired"
    return hold.status


def hold_out(hold: BedOccupancy, admission_id: int | None = None) -> HoldOut:
    """Not a 1:1 mapping: reads a hold past its deadline as expired, and adds the admission it became."""
    return HoldOut(
        id=hold.id,
        bed_id=hold.bed_id,
        elder_id=hold.elder_id,
        purpose=hold.purpose,
        status=hold_status(hold),
        expires_at=hold.expires_at,
        admission_id=admission_id,
        created_at=hold.created_at,
        override_id=hold.override_id,
        override_reason=hold.override_reason,
    )


def _lapse_statement(*, on_bed: bool, of_person: bool, of_type: bool) -> Executable:
    """Mark the holds past their deadline expired, on a bed, of a person or of a bed type (any of those given)."""
    # Named apart from the columns: an UPDATE's SET claims the columns' own names.
    now = bindparam("lapse_at", type_=BedOccupancy.expires_at.type)
    criteria = [BedOccupancy.status == "active", BedOccupancy.kind == "hold", BedOccupancy.expires_at <= now]
    scope = []
    if on_bed:
        scope.append(BedOccupancy.bed_id == bindparam("on_bed"))
    if of_person:
        scope.append(BedOccupancy.elder_id == bindparam("of_person"))
    if of_type:
        scope.append(BedOccupancy.bed_id.in_(select(Bed.id).where(Bed.bed_type == bindparam("of_type"))))
    if scope:
        criteria.append(or_(*scope))
    return (
        update(BedOccupancy)
        .where(*criteria)
        .values(status="expired", ended_at=now)
        .returning(BedOccupancy.id, BedOccupancy.bed_id)
    )


# Built once each (shared.direct compiles a statement once): the scopes the callers use.
_LAPSE = {
    (bed, person, kind): _lapse_statement(on_bed=bed, of_person=person, of_type=kind)
    for bed in (False, True)
    for person in (False, True)
    for kind in (False, True)
}
_OFFER_LAPSED = (
    update(WaitlistEntry)
    .where(WaitlistEntry.offer_id == bindparam("lapsed_hold"), WaitlistEntry.status == "offered")
    .values(status="lapsed")
)


async def lapse_holds(
    link: Link, *, bed_id: int | None = None, elder_id: int | None = None, bed_type: str | None = None
) -> list[int]:
    """Mark the holds past their deadline (on this bed, of this person, or of a bed type) expired, and the
    waitlist offers they were lapsed; return the beds freed, one per hold expired. Conditional on status and
    deadline, so running it twice, or from two requests at once, changes nothing more."""
    statement = _LAPSE[(bed_id is not None, elder_id is not None, bed_type is not None)]
    params = {"lapse_at": utcnow(), "on_bed": bed_id, "of_person": elder_id, "of_type": bed_type}
    lapsed = await link.rows(statement, params)
    for hold in lapsed:  # seldom more than one
        await link.run(_OFFER_LAPSED, {"lapsed_hold": hold["id"]})
    return [hold["bed_id"] for hold in lapsed]


async def expire_lapsed_holds(
    session: AsyncSession, *, bed_id: int | None = None, elder_id: int | None = None, bed_type: str | None = None
) -> list[int]:
    """`lapse_holds` in the session's transaction, each hold expired counted when it commits."""
    freed = await lapse_holds(await direct.of_session(session), bed_id=bed_id, elder_id=elder_id, bed_type=bed_type)
    for _ in freed:
        count_after_commit(session, "eldercare", "bed_hold_expired")
    return freed


async def _bed_for_claim(session: AsyncSession, bed_id: int) -> tuple[Bed, Institution]:
    row = (
        await session.execute(
            select(Bed, Institution).join(Institution, Institution.id == Bed.institution_id).where(Bed.id == bed_id)
        )
    ).first()
    if row is None:
        raise NotFound("no bed {bed_id}", bed_id=bed_id)
    bed, institution = row
    if not bed.in_service:
        raise Conflict("bed {bed_id} is out of service", resource=f"beds/{bed_id}", bed_id=bed_id)
    return bed, institution


def _claimable(bed_id: int, bed: Bed | None) -> None:
    if bed is None:
        raise NotFound("no bed {bed_id}", bed_id=bed_id)
    if not bed.in_service:
        raise Conflict("bed {bed_id} is out of service", resource=f"beds/{bed_id}", bed_id=bed_id)


def _bed_taken(bed_id: int, blocking: BedOccupancy) -> Conflict:
    if blocking.kind == "admission":
        return Conflict("bed {bed_id} is occupied", resource=f"beds/{bed_id}", bed_id=bed_id)
    until = blocking.expires_at.isoformat()
    return Conflict("bed {bed_id} is held until {until}", resource=f"beds/{bed_id}", bed_id=bed_id, until=until)


async def _claim(
    link: Link,
    principal: Principal,
    bed: Bed,
    elder: Elder,
    *,
    kind: str,
    purpose: str,
    expires_at: dt.datetime | None,
    hold_id: int | None = None,
) -> BedOccupancy:
    """Put the person on the bed (a hold or an admission), or a 409 naming what is in the way. The caller has just
    expired the lapsed holds on this bed and of this person (`lapse_holds`). A plain instance comes back, written
    with one Core statement (shared.direct), never added to a session."""
    now = utcnow()
    found = await link.row(_BLOCKING, {"bed_id": bed.id, "elder_id": elder.id})
    blocking = _HOLDER.of(found) if found is not None else None
    if blocking is not None:
        if blocking.bed_id == bed.id and blocking.elder_id != elder.id:
            raise _bed_taken(bed.id, blocking)
        noun = N_("admitted") if blocking.kind == "admission" else N_("holding a bed")
        path = "admissions" if blocking.kind == "admission" else "bed-holds"
        raise Conflict(
            "this person is already {noun} ({path} {blocking_id}, bed {bed_id})",
            resource=f"{path}/{blocking.id}",
            noun=noun,
            path=path,
            blocking_id=blocking.id,
            bed_id=blocking.bed_id,
        )
    occupancy = BedOccupancy(
        bed_id=bed.id,
        elder_id=elder.id,
        kind=kind,
        purpose=purpose,
        status="active",
        expires_at=expires_at,
        hold_id=hold_id,
        admitted_on=clock.today() if kind == "admission" else None,
        created_by=principal.subject,
        created_at=now,
    )
    try:
        await _OCCUPANCIES.add(link, occupancy)
    except IntegrityError:
        # Another request took the bed (or put this person on another one) since the check above.
        raise Conflict(
            "bed {bed_id} was just taken, or this person was just placed elsewhere",
            resource=f"beds/{bed.id}",
            bed_id=bed.id,
        ) from None
    return occupancy


_WAITING_FOR = (
    select(WaitlistEntry.id, WaitlistEntry.elder_id)
    .where(
        WaitlistEntry.status == "waiting",
        WaitlistEntry.bed_type == bindparam("bed_type"),
        or_(WaitlistEntry.district_code.is_(None), WaitlistEntry.district_code == bindparam("district")),
        ~exists().where(BedOccupancy.elder_id == WaitlistEntry.elder_id, BedOccupancy.status == "active"),
    )
    .order_by(*PRIORITY)
    .limit(1)
)


async def _waiting_for(link: Link, bed: Bed, institution: Institution) -> dict[str, int] | None:
    """The first person waiting for a bed like this one, who is not already holding or in a bed: the waitlist
    entry's id and elder_id."""
    return await link.row(_WAITING_FOR, {"bed_type": bed.bed_type, "district": institution.area_code[:6]})


class Unread(Enum):
    """Why `read_before_hold` has nothing to go on."""

    # A resident named a person they may not act for. The hold's transaction reads the person again and answers as
    # it always does: the resident's quota first, then the 404.
    PERSON_HIDDEN_FROM_RESIDENT = "person hidden from resident"


PERSON_HIDDEN_FROM_RESIDENT = Unread.PERSON_HIDDEN_FROM_RESIDENT


@dataclass(frozen=True)
class HoldContext:
    """What a hold needs, read in one statement before its transaction (`read_before_hold`)."""

    elder: Elder
    bed: Bed | None
    institution: Institution | None
    holder: BedOccupancy | None  # what holds the bed for someone else right now
    key_used: bool  # the request's Idempotency-Key was claimed before
    held: int | None  # a resident's live holds (read without the quota's lock)


# A hold needs only who the person is (nothing of theirs is decrypted), the bed, its institution and whoever holds
# it: labelled columns, rebuilt as plain instances (shared.db.Columns).
_ELDER = Columns(Elder, "elder_", only=("id",))
_BED = Columns(Bed, "bed_")
_INSTITUTION = Columns(Institution, "institution_")
_HOLDER = Columns(BedOccupancy, "holder_")
# What keeps a claim off a bed: a live occupancy of the bed, or of the person (the partial unique indexes' rows).
_BLOCKING = (
    select(*_HOLDER.columns)
    .where(
        BedOccupancy.status == "active",
        or_(BedOccupancy.bed_id == bindparam("bed_id"), BedOccupancy.elder_id == bindparam("elder_id")),
    )
    .limit(1)
)
_OCCUPANCIES = Inserter(BedOccupancy)


def _read_before_hold(principal: Principal, with_key: bool) -> Select:
    now = bindparam("now", type_=BedOccupancy.expires_at.type)
    claimed = key_used(IDEMPOTENCY_KEYS) if with_key else null()
    held = bed_holds_held(principal.subject, now).scalar_subquery() if principal.kind == "resident" else null()
    return (
        visible_to(principal)
        .where(Elder.id == bindparam("elder_id"))
        .outerjoin_from(Elder, Bed, Bed.id == bindparam("bed_id"))
        .outerjoin_from(Bed, Institution, Institution.id == Bed.institution_id)
        .outerjoin_from(
            Bed, BedOccupancy, and_(BedOccupancy.bed_id == Bed.id, BedOccupancy.elder_id != Elder.id, live_now(now))
        )
        .with_only_columns(
            *_ELDER.columns,
            *_BED.columns,
            *_INSTITUTION.columns,
            *_HOLDER.columns,
            claimed.label("key_id"),
            held.label("held"),
        )
        .limit(1)
    )


_before_hold = PerCaller(_read_before_hold)


async def read_before_hold(
    database: Database, principal: Principal, data: HoldIn, *, key: str | None
) -> HoldContext | Unread:
    """The person the caller may act for, the bed with its institution and whoever holds it now, whether the
    Idempotency-Key was used and a resident's live holds: one Core statement, outside any transaction (see
    shared.db.read_row). A person the caller may not see is a 404 at once for staff, and
    `PERSON_HIDDEN_FROM_RESIDENT` for a resident."""
    params = {"elder_id": data.elder_id, "bed_id": data.bed_id, "now": utcnow()}
    if key is not None:
        params |= key_params(principal, key)
    row = await read_row(database, _before_hold(principal, key is not None), params)
    if row is None:
        if principal.kind == "resident":
            return PERSON_HIDDEN_FROM_RESIDENT
        raise no_such_elder(data.elder_id)
    return _context_of(row)


def _context_of(row: dict) -> HoldContext:
    elder = _ELDER.of(row)
    assert elder is not None  # the statement's first table: no row without it
    return HoldContext(
        elder, _BED.of(row), _INSTITUTION.of(row), _HOLDER.of(row), row["key_id"] is not None, row["held"]
    )


def refuse_hold_early(context: HoldContext | Unread, data: HoldIn, *, hold_quota: int) -> None:
    """Refuse a hold on what was read before its transaction (a bed someone else holds, above all, when many want
    the same beds), with the answer the transaction would give. Left to the transaction: a request whose
    Idempotency-Key was used, and a resident at their quota (the quota, counted under its lock, answers first)."""
    if context is PERSON_HIDDEN_FROM_RESIDENT:
        return
    if context.key_used or (context.held is not None and context.held >= hold_quota):
        return
    _claimable(data.bed_id, context.bed)
    if context.holder is not None:
        raise _bed_taken(data.bed_id, context.holder)


async def create_hold(
    link: Link,
    principal: Principal,
    data: HoldIn,
    context: HoldContext | Unread,
    *,
    default_minutes: int,
    hold_quota: int,
) -> tuple[BedOccupancy, int]:
    """The hold, in the transaction of `link` (its statements all Core: shared.direct), and how many lapsed holds
    it expired on the way (to be counted once it commits). `context`: the person and the bed read before this
    transaction (`read_before_hold`), not read again; when that read had nothing to go on, it is read again here,
    after the quota."""
    await check_bed_holds(link, principal, hold_quota)
    if context is PERSON_HIDDEN_FROM_RESIDENT:
        row = await link.row(
            _before_hold(principal, False), {"elder_id": data.elder_id, "bed_id": data.bed_id, "now": utcnow()}
        )
        if row is None:
            raise no_such_elder(data.elder_id)
        context = _context_of(row)
    _claimable(data.bed_id, context.bed)
    elder, bed, institution, taken = context.elder, context.bed, context.institution, context.holder
    assert bed is not None and institution is not None  # _claimable: the bed exists, and so its institution
    if taken is not None:
        # Taken by someone else right now: the usual answer when many want the same bed, given before any write.
        # The partial unique indexes, not this read, keep one person per bed.
        raise _bed_taken(bed.id, taken)
    expired = await lapse_holds(link, bed_id=bed.id, elder_id=elder.id)
    waiting = await _waiting_for(link, bed, institution)
    if waiting is not None and waiting["elder_id"] != elder.id:
        # Beds of a type people are queueing for go through the waitlist, or a booking would jump the queue.
        raise Conflict(
            "people are waiting for a {bed_type} bed; bed {bed_id} is offered through the waitlist (轮候)",
            resource=f"beds/{bed.id}",
            bed_type=bed.bed_type,
            bed_id=bed.id,
        )
    minutes = data.minutes or default_minutes
    hold = await _claim(
        link,
        principal,
        bed,
        elder,
        kind="hold",
        purpose="booking",
        expires_at=utcnow() + dt.timedelta(minutes=minutes),
    )
    return hold, len(expired)


def occupancies_visible_to(principal: Principal) -> Select:
    """Holds and admissions of people the caller may see, or (staff) at institutions in their area."""
    elders = visible_to(principal).with_only_columns(Elder.id)
    query = (
        select(BedOccupancy)
        .join(Bed, Bed.id == BedOccupancy.bed_id)
        .join(Institution, Institution.id == Bed.institution_id)
    )
    condition = BedOccupancy.elder_id.in_(elders)
    if principal.is_area_staff:
        condition = or_(condition, within_area(Institution.area_code, principal.area))
    return query.where(condition)


async def _get_occupancy(session: AsyncSession, principal: Principal, occupancy_id: int, kind: str) -> BedOccupancy:
    occupancy = await session.scalar(
        occupancies_visible_to(principal).where(BedOccupancy.id == occupancy_id, BedOccupancy.kind == kind)
    )
    if occupancy is None:
        noun = N_("bed hold") if kind == "hold" else N_("admission")
        raise NotFound("no {noun} {occupancy_id} that you may see", noun=noun, occupancy_id=occupancy_id)
    return occupancy


async def get_hold(session: AsyncSession, principal: Principal, hold_id: int) -> tuple[BedOccupancy, int | None]:
    hold = await _get_occupancy(session, principal, hold_id, "hold")
    admission_id = await session.scalar(select(BedOccupancy.id).where(BedOccupancy.hold_id == hold.id))
    return hold, admission_id


async def _institution_staff(session: AsyncSession, principal: Principal, bed_id: int) -> tuple[Bed, Institution]:
    bed, institution = (
        await session.execute(
            select(Bed, Institution).join(Institution, Institution.id == Bed.institution_id).where(Bed.id == bed_id)
        )
    ).one()
    if not principal.covers(institution.area_code):
        raise Forbidden(
            "institution {institution_id} is outside your area {area}",
            institution_id=institution.id,
            area=principal.area,
        )
    return bed, institution


async def confirm_hold(session: AsyncSession, principal: Principal, hold_id: int) -> BedOccupancy:
    """The hold becomes an admission (入住) in one transaction: the bed is never free in between."""
    hold = await _get_occupancy(session, principal, hold_id, "hold")
    await _institution_staff(session, principal, hold.bed_id)
    status = hold_status(hold)
    if status != "active":
        raise Conflict(
            "bed hold {hold_id} is {status}; it can no longer be confirmed",
            resource=f"bed-holds/{hold_id}",
            hold_id=hold_id,
            status=status,
        )
    now = utcnow()
    confirmed = await session.execute(
        update(BedOccupancy)
        .where(BedOccupancy.id == hold_id, BedOccupancy.status == "active", BedOccupancy.expires_at > now)
        .values(status="confirmed", ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if confirmed.rowcount != 1:
        raise Conflict(
            "bed hold {hold_id} was just confirmed, released or lapsed",
            resource=f"bed-holds/{hold_id}",
            hold_id=hold_id,
        )
    admission = BedOccupancy(
        bed_id=hold.bed_id,
        elder_id=hold.elder_id,
        kind="admission",
        purpose=hold.purpose,
        status="active",
        hold_id=hold.id,
        admitted_on=clock.today(),
        created_by=principal.subject,
        created_at=now,
    )
    session.add(admission)
    await session.flush()
    await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.offer_id == hold.id)
        .values(status="admitted")
        .execution_options(synchronize_session=False)
    )
    return admission


async def release_hold(session: AsyncSession, principal: Principal, hold_id: int, *, offer_hours: int) -> BedOccupancy:
    """Give the bed up before the deadline (a declined offer passes to the next person waiting)."""
    hold = await _get_occupancy(session, principal, hold_id, "hold")
    status = hold_status(hold)
    if status != "active":
        raise Conflict(
            "bed hold {hold_id} is already {status}", resource=f"bed-holds/{hold_id}", hold_id=hold_id, status=status
        )
    now = utcnow()
    released = await session.execute(
        update(BedOccupancy)
        .where(BedOccupancy.id == hold_id, BedOccupancy.status == "active")
        .values(status="released", ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if released.rowcount != 1:
        raise Conflict(
            "bed hold {hold_id} was just confirmed or released", resource=f"bed-holds/{hold_id}", hold_id=hold_id
        )
    count_after_commit(session, "eldercare", "bed_hold_released")
    await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.offer_id == hold.id, WaitlistEntry.status == "offered")
        .values(status="declined")
        .execution_options(synchronize_session=False)
    )
    await offer_bed(session, hold.bed_id, offer_hours=offer_hours)
    await session.refresh(hold)
    return hold


async def admit_directly(session: AsyncSession, principal: Principal, data: AdmissionIn) -> BedOccupancy:
    elder = await get_or_404(session, Elder, data.elder_id, "no older person {elder_id}", elder_id=data.elder_id)
    bed, institution = await _bed_for_claim(session, data.bed_id)
    if not principal.covers(institution.area_code):
        raise Forbidden(
            "institution {institution_id} is outside your area {area}",
            institution_id=institution.id,
            area=principal.area,
        )
    await expire_lapsed_holds(session, bed_id=bed.id, elder_id=elder.id)
    return await _claim(
        await direct.of_session(session), principal, bed, elder, kind="admission", purpose="direct", expires_at=None
    )


async def admit_over_hold(session: AsyncSession, principal: Principal, data: EmergencyAdmissionIn) -> BedOccupancy:
    """An emergency admission (紧急入住) that may go past another person's live hold on the bed: the hold is
    released, says it was overridden and why, and the override is audited, all in one transaction. Only a hold
    gives way: a bed with someone admitted, or a person already holding or in a bed, is still a 409, and the
    unique index on live occupancies still refuses a second one on the bed if two overrides race."""
    elder = await get_or_404(session, Elder, data.elder_id, "no older person {elder_id}", elder_id=data.elder_id)
    bed, institution = await _bed_for_claim(session, data.bed_id)
    overrides.may_override(principal, institution.area_code)
    await expire_lapsed_holds(session, bed_id=bed.id, elder_id=elder.id)
    holder = await session.scalar(
        select(BedOccupancy).where(
            BedOccupancy.bed_id == bed.id,
            BedOccupancy.status == "active",
            BedOccupancy.kind == "hold",
            BedOccupancy.elder_id != elder.id,
        )
    )
    if holder is None:  # nothing to override: an ordinary admission, with its ordinary refusals
        return await _claim(
            await direct.of_session(session), principal, bed, elder, kind="admission", purpose="direct", expires_at=None
        )
    hold_id, conflict_detail = holder.id, _bed_taken(bed.id, holder).detail
    released = await session.execute(
        update(BedOccupancy)
        .where(BedOccupancy.id == hold_id, BedOccupancy.status == "active")
        .values(status="released", ended_at=utcnow(), override_reason=data.override_reason)
        .execution_options(synchronize_session=False)
    )
    if released.rowcount != 1:
        raise Conflict(
            "bed hold {hold_id} was just confirmed, released or overridden", resource=f"beds/{bed.id}", hold_id=hold_id
        )
    # A waitlist offer taken away is no fault of the person offered: they wait again in their place.
    await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.offer_id == hold_id, WaitlistEntry.status == "offered")
        .values(status="waiting", offer_id=None)
        .execution_options(synchronize_session=False)
    )
    admission = await _claim(
        await direct.of_session(session), principal, bed, elder, kind="admission", purpose="direct", expires_at=None
    )
    audit = await overrides.record(
        session,
        principal,
        action="emergency_admission",
        resource=f"admissions/{admission.id}",
        conflict=f"bed-holds/{hold_id}",
        conflict_detail=conflict_detail,
        reason=data.override_reason,
        area_code=institution.area_code,
    )
    await session.execute(
        update(BedOccupancy)
        .where(BedOccupancy.id == hold_id)
        .values(override_id=audit.id)
        .execution_options(synchronize_session=False)
    )
    count_after_commit(session, "eldercare", "bed_hold_overridden")
    return admission


async def get_admission(session: AsyncSession, principal: Principal, admission_id: int) -> BedOccupancy:
    return await _get_occupancy(session, principal, admission_id, "admission")


async def list_occupancies(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    kind: str,
    elder_id: int | None,
    bed_id: int | None,
    active_only: bool,
) -> list[BedOccupancy]:
    query = keyset(
        occupancies_visible_to(principal).where(BedOccupancy.kind == kind), BedOccupancy.id, page, descending=True
    )
    if elder_id is not None:
        query = query.where(BedOccupancy.elder_id == elder_id)
    if bed_id is not None:
        query = query.where(BedOccupancy.bed_id == bed_id)
    if active_only:
        query = query.where(live_now(utcnow()))
    return list(await session.scalars(query))


async def discharge(
    session: AsyncSession, principal: Principal, admission_id: int, reason: str, *, offer_hours: int
) -> tuple[BedOccupancy, int | None]:
    """Discharge (出院/退住) frees the bed, which is offered at once to the first person waiting for its type."""
    admission = await _get_occupancy(session, principal, admission_id, "admission")
    await _institution_staff(session, principal, admission.bed_id)
    now = utcnow()
    done = await session.execute(
        update(BedOccupancy)
        .where(BedOccupancy.id == admission_id, BedOccupancy.status == "active")
        .values(status="discharged", discharged_on=clock.today(), discharge_reason=reason, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(
            "admission {admission_id} is already discharged",
            resource=f"admissions/{admission_id}",
            admission_id=admission_id,
        )
    offer = await offer_bed(session, admission.bed_id, offer_hours=offer_hours)
    await session.refresh(admission)
    return admission, offer.id if offer else None


async def offer_bed(session: AsyncSession, bed_id: int, *, offer_hours: int) -> BedOccupancy | None:
    """Offer a free bed to the first eligible person waiting for its type: a hold with a deadline."""
    bed, institution = (
        await session.execute(
            select(Bed, Institution).join(Institution, Institution.id == Bed.institution_id).where(Bed.id == bed_id)
        )
    ).one()
    if not bed.in_service:
        return None
    now = utcnow()
    taken = await session.scalar(select(BedOccupancy.id).where(BedOccupancy.bed_id == bed_id, live_now(now)))
    if taken is not None:
        return None
    entry = await _waiting_for(await direct.of_session(session), bed, institution)
    if entry is None:
        return None
    elder = await session.get(Elder, entry["elder_id"])
    assert elder is not None  # waitlist_entries.elder_id is a foreign key
    try:
        async with session.begin_nested():  # a race lost here skips this offer, not the caller's whole work
            await expire_lapsed_holds(session, bed_id=bed.id, elder_id=elder.id)
            offer = await _claim(
                await direct.of_session(session),
                _SYSTEM,
                bed,
                elder,
                kind="hold",
                purpose="offer",
                expires_at=now + dt.timedelta(hours=offer_hours),
            )
    except Conflict:
        return None
    await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry["id"], WaitlistEntry.status == "waiting")
        .values(status="offered", offer_id=offer.id)
        .execution_options(synchronize_session=False)
    )
    await notices.bed_offered(session, offer, elder, institution.name)
    return offer


_SYSTEM = Principal(subject="system:waitlist", kind="service")
