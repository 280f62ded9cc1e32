"""Emergency calls (为老呼叫): logged, handled step by step, closed with an outcome; open calls per area."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare import notices
from services.eldercare.calls.models import CallAction, EmergencyCall
from services.eldercare.calls.schemas import ActionOut, CallIn, CallOut
from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import get_visible, visible_to
from shared import clock
from shared.db import one_or_404, utcnow
from shared.errors import Conflict, InvalidInput
from shared.geo import check_coordinates
from shared.identity import Principal
from shared.pagination import PageParams, keyset


async def to_out(session: AsyncSession, call: EmergencyCall) -> CallOut:
    """Not a 1:1 mapping: reads the actions taken on the call."""
    actions = await session.scalars(select(CallAction).where(CallAction.call_id == call.id).order_by(CallAction.id))
    return CallOut(
        id=call.id,
        elder_id=call.elder_id,
        area_code=call.area_code,
        kind=call.kind,
        called_at=call.called_at,
        latitude=call.latitude,
        longitude=call.longitude,
        note=call.note,
        status=call.status,
        outcome=call.outcome,
        outcome_note=call.outcome_note,
        closed_at=call.closed_at,
        actions=[ActionOut.model_validate(a) for a in actions],
    )


async def raise_call(session: AsyncSession, principal: Principal, data: CallIn) -> EmergencyCall:
    elder = await get_visible(session, principal, data.elder_id)
    check_coordinates(data.latitude, data.longitude)
    now = utcnow()
    if data.called_at is not None and data.called_at > now:
        raise InvalidInput("called_at", "is in the future")
    if data.called_at is not None and data.called_at.astimezone(clock.SHANGHAI).date() < elder.birth_on:
        raise InvalidInput("called_at", "is before the person was born")
    call = EmergencyCall(
        elder_id=elder.id,
        area_code=elder.area_code,
        kind=data.kind,
        called_at=data.called_at or now,
        latitude=data.latitude,
        longitude=data.longitude,
        note=data.note,
        status="open",
        raised_by=principal.subject,
        created_at=now,
    )
    session.add(call)
    await session.flush()
    await notices.call_raised(session, call)  # the carers hear of it, in this transaction (the outbox)
    return call


async def get(session: AsyncSession, principal: Principal, call_id: int, *, for_update: bool = False) -> EmergencyCall:
    """`for_update`: the call's row locked until the commit, so a close at the same moment waits (or is seen)."""
    elders = visible_to(principal).with_only_columns(Elder.id)
    query = select(EmergencyCall).where(EmergencyCall.id == call_id, EmergencyCall.elder_id.in_(elders))
    return await one_or_404(
        session,
        (query.with_for_update(of=EmergencyCall) if for_update else query).execution_options(populate_existing=True),
        "no emergency call {call_id} that you may see",
        call_id=call_id,
    )


async def list_calls(
    session: AsyncSession, principal: Principal, page: PageParams, *, status: str | None, elder_id: int | None
) -> list[EmergencyCall]:
    """Newest first; `status=open` gives the calls still waiting for someone (open or being handled)."""
    elders = visible_to(principal).with_only_columns(Elder.id)
    query = keyset(
        select(EmergencyCall).where(EmergencyCall.elder_id.in_(elders)), EmergencyCall.id, page, descending=True
    )
    if status == "open":
        query = query.where(EmergencyCall.status.in_(("open", "handling")))
    elif status is not None:
        query = query.where(EmergencyCall.status == status)
    if elder_id is not None:
        query = query.where(EmergencyCall.elder_id == elder_id)
    return list(await session.scalars(query))


async def act(session: AsyncSession, principal: Principal, call_id: int, action: str) -> EmergencyCall:
    # Locked first: a step read as taken on a call being handled while a close commits was logged after the close.
    call = await get(session, principal, call_id, for_update=True)
    if call.status == "closed":
        raise Conflict("emergency call {call_id} is closed", resource=f"emergency-calls/{call_id}", call_id=call_id)
    session.add(CallAction(call_id=call.id, handler=principal.subject, action=action, acted_at=utcnow()))
    answered = await session.execute(
        update(EmergencyCall)
        .where(EmergencyCall.id == call_id, EmergencyCall.status == "open")
        .values(status="handling")
        .execution_options(synchronize_session=False)
    )
    if answered.rowcount == 1:  # the first action answers the call
        await notices.call_answered(session, call, principal.subject)
    await session.flush()
    return await get(session, principal, call_id)


async def close(
    session: AsyncSession, principal: Principal, call_id: int, outcome: str, note: str | None
) -> EmergencyCall:
    await get(session, principal, call_id, for_update=True)  # closed_at read once steps taken at once are in
    done = await session.execute(
        update(EmergencyCall)
        .where(EmergencyCall.id == call_id, EmergencyCall.status == "handling")
        .values(status="closed", outcome=outcome, outcome_note=note, closed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict(
            "emergency call {call_id} is not being handled: log an action first, or it is already closed",
            resource=f"emergency-calls/{call_id}",
            call_id=call_id,
        )
    call = await get(session, principal, call_id)
    await notices.call_closed(session, call, outcome)
    return call
