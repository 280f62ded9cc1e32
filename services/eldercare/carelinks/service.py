"""Verified care relations: a resident asks to act for an older person; staff of the person's area decide.

A resident learns only that the request was received (no enumeration of who is registered): the answer and
what the resident can list are the same whether or not the number belongs to a registered person. Staff see
the requests about people of their area; approving one makes the `ElderCarer` link in the same transaction,
by a conditional update on the status, so two approvals at once make one link.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.carelinks.models import CareLinkRequest
from services.eldercare.carelinks.schemas import CareLinkReceipt, CareLinkRequestIn, CareLinkRequestOut
from services.eldercare.elders.models import Elder, ElderCarer, elder_id_number_index
from services.eldercare.elders.service import get_visible, visible_to
from services.eldercare.quotas import check_pending_care_links
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound
from shared.identity import Principal
from shared.idnumbers import mask_id_number, parse_id_number
from shared.pagination import PageParams, keyset


def receipt(request: CareLinkRequest) -> CareLinkReceipt:
    return CareLinkReceipt(
        id=request.id,
        status=request.status,
        relation=request.relation,
        stated_name=request.stated_name,
        id_number_masked=mask_id_number(request.id_number),
        created_at=request.created_at,
        decided_at=request.decided_at,
        elder_id=request.elder_id if request.status == "approved" else None,
    )


def staff_view(request: CareLinkRequest, elder: Elder | None) -> CareLinkRequestOut:
    return CareLinkRequestOut(
        **receipt(request).model_dump() | {"elder_id": request.elder_id},
        requester=request.requester,
        elder_name=elder.name if elder else None,
        name_matches=None if elder is None else elder.name == request.stated_name,
        decided_by=request.decided_by,
        decision_note=request.decision_note,
    )


async def request_link(
    session: AsyncSession, principal: Principal, data: CareLinkRequestIn, *, pending_quota: int
) -> CareLinkRequest:
    await check_pending_care_links(session, principal, pending_quota)
    if principal.kind != "resident":
        raise Forbidden("care link requests are made by residents for themselves")
    number = parse_id_number(data.id_number).value
    index = elder_id_number_index(number)
    pending = await session.scalar(
        select(CareLinkRequest.id).where(
            CareLinkRequest.requester == principal.subject,
            CareLinkRequest.id_number_index == index,
            CareLinkRequest.status == "pending",
        )
    )
    if pending is not None:
        # About the caller's own request, the same whether or not the person is registered.
        raise Conflict(
            "you already have a pending request for this ID number", resource=f"care-link-requests/{pending}"
        )
    elder_id = await session.scalar(select(Elder.id).where(Elder.id_number_index == index))
    request = CareLinkRequest(
        requester=principal.subject,
        id_number=number,
        id_number_index=index,
        stated_name=data.name,
        relation=data.relation,
        elder_id=elder_id,
        status="pending",
        created_at=utcnow(),
    )
    session.add(request)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("you already have a pending request for this ID number") from None
    return request


def _visible_requests(principal: Principal):
    query = select(CareLinkRequest, Elder).outerjoin(Elder, Elder.id == CareLinkRequest.elder_id)
    if principal.kind == "resident":
        return query.where(CareLinkRequest.requester == principal.subject)
    # Staff: requests about the people of their area (visible_to applies the area rule once).
    return query.where(CareLinkRequest.elder_id.in_(visible_to(principal).with_only_columns(Elder.id)))


async def list_requests(
    session: AsyncSession, principal: Principal, page: PageParams, *, status: str | None
) -> list[tuple[CareLinkRequest, Elder | None]]:
    query = keyset(_visible_requests(principal), CareLinkRequest.id, page, descending=True)
    if status is not None:
        query = query.where(CareLinkRequest.status == status)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def get_for_staff(session: AsyncSession, principal: Principal, request_id: int) -> tuple[CareLinkRequest, Elder]:
    row = (await session.execute(_visible_requests(principal).where(CareLinkRequest.id == request_id))).first()
    if row is None or principal.kind != "staff":
        raise NotFound("no care link request {request_id} that you may see", request_id=request_id)
    return row[0], row[1]


async def decide(
    session: AsyncSession, principal: Principal, request_id: int, *, approve: bool, note: str | None
) -> tuple[CareLinkRequest, Elder]:
    # Approving grants the requester the person's records: only staff whose area covers the person decide
    # (get_for_staff finds nothing outside it), whatever scopes a token carries, and never on their own request.
    if principal.kind != "staff":
        raise Forbidden("care link requests are decided by staff of the person's area")
    request, elder = await get_for_staff(session, principal, request_id)
    if request.requester == principal.subject:
        raise Forbidden("no one decides their own care link request")
    status = "approved" if approve else "rejected"
    # Conditional on `pending`: of two decisions at once, one changes the row and the other is told so.
    decided = await session.execute(
        update(CareLinkRequest)
        .where(CareLinkRequest.id == request_id, CareLinkRequest.status == "pending")
        .values(status=status, decided_by=principal.subject, decided_at=utcnow(), decision_note=note)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:
        await session.refresh(request)
        raise Conflict(
            "care link request {request_id} is already {request_status}",
            resource=f"care-link-requests/{request_id}",
            request_id=request_id,
            request_status=request.status,
        )
    if approve:
        linked = await session.scalar(
            select(ElderCarer.id).where(ElderCarer.elder_id == elder.id, ElderCarer.subject == request.requester)
        )
        if linked is None:
            session.add(ElderCarer(elder_id=elder.id, subject=request.requester, relation=request.relation))
            await session.flush()
    await session.refresh(request)
    return request, elder


async def end_link(session: AsyncSession, principal: Principal, elder_id: int, subject: str) -> None:
    elder = await get_visible(session, principal, elder_id)
    if not principal.covers(elder.area_code):
        raise Forbidden("elder {elder_id} is outside your area {area}", elder_id=elder_id, area=principal.area)
    ended = await session.execute(
        delete(ElderCarer).where(ElderCarer.elder_id == elder.id, ElderCarer.subject == subject)
    )
    if ended.rowcount != 1:
        raise NotFound("{subject} does not act for elder {elder_id}", subject=subject, elder_id=elder_id)
