"""Standard place names and their history: naming, renaming, unification, retirement, rectification.

Every change of status is a conditional update (`... WHERE status = 'standard'`, one row or a 409), so two
decisions racing on the same name cannot both win. Resolution follows `replaced_by_id` to today's standard
name, guarding against a cycle in old data.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.changes.service import record, successor
from services.placenames.names.models import NameEvent, PlaceName
from services.placenames.names.schemas import EventIn, EventOut, NameDetail, NameIn, NameOut, StandardOut
from shared import clock
from shared.db import get_or_404, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.identity import Principal
from shared.pagination import PageParams, keyset

FILING_DAYS = 15
MAX_CHAIN = 20  # far longer than any real chain of renamings: a guard against cycles in imported data
# The change each decision about a standard name makes in the feed (a naming makes a name, no change to one).
CHANGE_OF_EVENT = {
    "renaming": "name.renamed",
    "unification": "name.unified",
    "rectification": "name.rectified",
    "retirement": "name.retired",
}


def filing_deadline(decided_on: dt.date) -> dt.date:
    return decided_on + dt.timedelta(days=FILING_DAYS)


def filing_missed(event: NameEvent, today: dt.date) -> bool:
    deadline = filing_deadline(event.decided_on)
    return event.filed_on > deadline if event.filed_on is not None else today > deadline


def event_out(event: NameEvent, today: dt.date | None = None) -> EventOut:
    """Computed: the filing deadline and whether it was missed."""
    return EventOut(
        id=event.id,
        name_id=event.name_id,
        result_id=event.result_id,
        kind=event.kind,
        decision_document=event.decision_document,
        decided_on=event.decided_on,
        filed_on=event.filed_on,
        filing_deadline=filing_deadline(event.decided_on),
        filing_missed=filing_missed(event, today or clock.today()),
        unification_group=event.unification_group,
        illustrative=event.illustrative,
        note=event.note,
        created_at=event.created_at,
    )


async def resolve_chain(session: AsyncSession, name: PlaceName) -> list[PlaceName]:
    """The names from `name` to today's standard one. Stops (without it) at a cycle or a retired name."""
    chain, seen = [name], {name.id}
    while chain[-1].replaced_by_id is not None and len(chain) < MAX_CHAIN:
        nxt = await session.get(PlaceName, chain[-1].replaced_by_id)
        if nxt is None or nxt.id in seen:
            break
        chain.append(nxt)
        seen.add(nxt.id)
    return chain


async def detail(session: AsyncSession, name_id: int) -> NameDetail:
    name = await get(session, name_id)
    chain = await resolve_chain(session, name)
    standard = chain[-1] if chain[-1].status == "standard" else None
    return NameDetail(
        **NameOut.model_validate(name).model_dump(),
        standard=StandardOut.model_validate(standard) if standard else None,
        chain=[StandardOut.model_validate(n) for n in chain],
    )


async def get(session: AsyncSession, name_id: int) -> PlaceName:
    name = await get_or_404(session, PlaceName, name_id, "no place name {name_id}", name_id=name_id)
    return name


def _check_area(principal: Principal, district_code: str) -> None:
    if not principal.covers(district_code):
        raise Forbidden(
            "district {district_code} is outside your area {area}", district_code=district_code, area=principal.area
        )


async def _standard_named(session: AsyncSession, name: str, kind: str, district_code: str) -> PlaceName | None:
    return await session.scalar(
        select(PlaceName).where(
            PlaceName.name == name,
            PlaceName.kind == kind,
            PlaceName.district_code == district_code,
            PlaceName.status == "standard",
        )
    )


async def _insert_standard(
    session: AsyncSession, name: str, kind: str, district_code: str, note: str | None = None
) -> PlaceName:
    existing = await _standard_named(session, name, kind, district_code)
    if existing is not None:
        raise Conflict(
            "{name} is already a standard {kind} name in {district_code}",
            resource=f"names/{existing.id}",
            name=name,
            kind=kind,
            district_code=district_code,
        )
    row = PlaceName(
        name=name,
        kind=kind,
        status="standard",
        district_code=district_code,
        note=note,
        illustrative=False,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


def _event(
    principal: Principal, name_id: int, kind: str, data, result_id: int | None = None, group: str | None = None
) -> NameEvent:
    return NameEvent(
        name_id=name_id,
        result_id=result_id,
        kind=kind,
        decision_document=data.decision_document,
        decided_on=data.decided_on,
        filed_on=data.filed_on,
        unification_group=group,
        illustrative=False,
        note=data.note,
        recorded_by=principal.subject,
        created_at=utcnow(),
    )


def check_decided_on(day: dt.date, field: str = "decided_on") -> None:
    """A decision is dated the day it was made: a day ahead is a typing slip (2062 for 2026), and would rename a
    road or retire an address now, with a decision and a filing deadline dated years away. The same holds for every
    day something was done that takes effect at once: a filing (备案), which else would count as made in time and
    never show as missed, and a door plate put up or taken down."""
    if day > clock.today():
        raise InvalidInput(field, "is in the future")


async def create(session: AsyncSession, principal: Principal, data: NameIn) -> PlaceName:
    _check_area(principal, data.district_code)
    if data.decision is not None:
        check_decided_on(data.decision.decided_on, "decision.decided_on")
        if data.decision.filed_on is not None:
            check_decided_on(data.decision.filed_on, "decision.filed_on")
    if data.status == "standard":
        if data.replaced_by_id is not None:
            raise InvalidInput("replaced_by_id", "a standard name is not replaced by another")
        row = await _insert_standard(session, data.name, data.kind, data.district_code, data.note)
        if data.decision is not None:
            session.add(_event(principal, row.id, "naming", data.decision))
            await session.flush()
        return row
    if data.replaced_by_id is None:
        raise InvalidInput("replaced_by_id", "an {status} name must say which name it stands for", status=data.status)
    target = await session.get(PlaceName, data.replaced_by_id)
    if target is None:
        raise InvalidInput("replaced_by_id", "no place name {replaced_by_id}", replaced_by_id=data.replaced_by_id)
    row = PlaceName(
        name=data.name,
        kind=data.kind,
        status=data.status,
        district_code=data.district_code,
        replaced_by_id=target.id,
        note=data.note,
        illustrative=False,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def _claim_standard(session: AsyncSession, name: PlaceName, status: str, replaced_by_id: int | None) -> None:
    """Move a standard name to `status`, only if it is still standard: the loser of a race gets a 409."""
    result = await session.execute(
        update(PlaceName)
        .where(PlaceName.id == name.id, PlaceName.status == "standard")
        .values(status=status, replaced_by_id=replaced_by_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "{name_name} is no longer a standard name; a decision about it was already recorded",
            resource=f"names/{name.id}",
            name_name=name.name,
        )
    await session.refresh(name)


async def add_event(session: AsyncSession, principal: Principal, name_id: int, data: EventIn) -> NameEvent:
    check_decided_on(data.decided_on)
    if data.filed_on is not None:
        check_decided_on(data.filed_on, "filed_on")
    name = await get(session, name_id)
    _check_area(principal, name.district_code)
    if name.status != "standard":
        raise Conflict(
            "{name_name} is {name_status}: decisions are about standard names",
            resource=f"names/{name.id}",
            name_name=name.name,
            name_status=name.status,
        )
    result: PlaceName | None = None
    if data.kind == "retirement":
        if data.new_name or data.into_id:
            raise InvalidInput("kind", "a retirement has no new name")
        await _claim_standard(session, name, "historical", None)
    else:
        if (data.new_name is None) == (data.into_id is None):
            raise InvalidInput("new_name", "give either new_name (a new standard name) or into_id (an existing one)")
        if data.kind == "renaming" and data.new_name is None:
            raise InvalidInput("new_name", "a renaming gives the new name")
        if data.kind == "unification" and data.into_id is None:
            raise InvalidInput("into_id", "a unification names the standard name kept")
        if data.into_id is not None:
            result = await session.get(PlaceName, data.into_id)
            if result is None or result.status != "standard" or result.id == name.id:
                raise InvalidInput("into_id", "{into_id} is not another standard name", into_id=data.into_id)
            if result.kind != name.kind:
                raise InvalidInput(
                    "into_id",
                    "{result_name} is a {result_kind}, not a {name_kind}",
                    result_name=result.name,
                    result_kind=result.kind,
                    name_kind=name.kind,
                )
            _check_area(principal, result.district_code)
        if result is None:
            result = await _insert_standard(session, data.new_name, name.kind, name.district_code)
        # Of two decisions racing on one name, the loser fails here and its transaction (with any new name it
        # inserted) is rolled back.
        await _claim_standard(session, name, "alias" if data.kind == "rectification" else "historical", result.id)
        from services.placenames.addresses.service import follow_renaming  # addresses depend on names

        await follow_renaming(session, name.id, result.id, data.decided_on)
    event = _event(principal, name.id, data.kind, data, result.id if result else None, data.unification_group)
    session.add(event)
    await session.flush()
    if data.kind in CHANGE_OF_EVENT:
        record(
            session,
            CHANGE_OF_EVENT[data.kind],
            str(name.id),
            [successor(str(result.id), result.name, None)] if result else [],
            previous_text=name.name,
            decided_on=data.decided_on,
        )
    return event


async def list_page(
    session: AsyncSession,
    page: PageParams,
    *,
    q: str | None,
    kind: str | None,
    status: str | None,
    district_code: str | None,
) -> list[PlaceName]:
    query = keyset(select(PlaceName), PlaceName.id, page)
    if q:
        query = query.where(PlaceName.name.startswith(q, autoescape=True))
    if kind:
        query = query.where(PlaceName.kind == kind)
    if status:
        query = query.where(PlaceName.status == status)
    if district_code:
        query = query.where(PlaceName.district_code == district_code)
    return list(await session.scalars(query))


async def events_of(session: AsyncSession, name_id: int) -> list[NameEvent]:
    await get(session, name_id)
    return list(
        await session.scalars(
            select(NameEvent)
            .where(or_(NameEvent.name_id == name_id, NameEvent.result_id == name_id))
            .order_by(NameEvent.decided_on, NameEvent.id)
        )
    )


async def record_filing(session: AsyncSession, principal: Principal, event_id: int, filed_on: dt.date) -> NameEvent:
    event = await get_or_404(session, NameEvent, event_id, "no name event {event_id}", event_id=event_id)
    name = await get(session, event.name_id)
    _check_area(principal, name.district_code)
    if filed_on < event.decided_on:
        raise InvalidInput("filed_on", "cannot be before the decision")
    check_decided_on(filed_on, "filed_on")
    result = await session.execute(
        update(NameEvent)
        .where(NameEvent.id == event_id, NameEvent.filed_on.is_(None))
        .values(filed_on=filed_on)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("event {event_id} was already filed", resource=f"name-events/{event_id}", event_id=event_id)
    await session.refresh(event)
    return event


async def resolve_text(session: AsyncSession, text: str, district_code: str | None) -> list[NameDetail]:
    """Every name spelled `text` (in `district_code` if given), each with today's standard name."""
    query = select(PlaceName.id).where(PlaceName.name == text).order_by(PlaceName.id).limit(20)
    if district_code:
        query = query.where(PlaceName.district_code == district_code)
    return [await detail(session, i) for i in await session.scalars(query)]
