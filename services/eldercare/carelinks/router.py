from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response

from services.eldercare.carelinks import service
from services.eldercare.carelinks.auth import CareLinkRequester, CareLinksDecider, CareLinksReader
from services.eldercare.carelinks.schemas import CareLinkReceipt, CareLinkRequestIn, CareLinkRequestOut, DecisionIn
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["care links 家属关联"])


@router.post(
    "/care-link-requests",
    status_code=201,
    response_model=CareLinkReceipt,
    summary="Ask to act for an older person",
    description="A resident names the person by ID number and name and states the relation. The request "
    "waits for staff of the person's area to verify it. The answer is the same whether or not "
    "the person is registered: only that the request was received. A resident has at most a set "
    "number of requests waiting (409 `/problems/quota-reached`, resource "
    "`quotas/pending_care_links`).",
    responses=problem_responses(401, 403, 409, 422),
)
async def request_link(
    data: CareLinkRequestIn, request: Request, session: Session, principal: CareLinkRequester
) -> CareLinkReceipt:
    return service.receipt(
        await service.request_link(
            session, principal, data, pending_quota=request.app.state.settings.resident_pending_care_links
        )
    )


@router.get(
    "/care-link-requests",
    response_model=Page[CareLinkRequestOut] | Page[CareLinkReceipt],
    summary="Care link requests you may see",
    description="A resident sees their own requests (the person's record only once approved); staff see the "
    "requests about people of their area. Newest first.",
    responses=problem_responses(401, 403, 422),
)
async def list_requests(
    session: Session,
    principal: CareLinksReader,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["pending", "approved", "rejected"] | None = None,
):
    rows = await service.list_requests(session, principal, page, status=status)
    if principal.kind == "staff":
        return page_of([service.staff_view(r, e) for r, e in rows], page, key=lambda r: r.id)
    return page_of([service.receipt(r) for r, _ in rows], page, key=lambda r: r.id)


@router.post(
    "/care-link-requests/{request_id}/approval",
    response_model=CareLinkRequestOut,
    summary="Approve a care link request",
    description="Staff of the person's area, having verified the relation, approve: the resident may then "
    "act for the person. A request already decided is 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve(
    request_id: int, session: Session, principal: CareLinksDecider, data: DecisionIn | None = None
) -> CareLinkRequestOut:
    request, elder = await service.decide(
        session, principal, request_id, approve=True, note=data.note if data else None
    )
    return service.staff_view(request, elder)


@router.post(
    "/care-link-requests/{request_id}/rejection",
    response_model=CareLinkRequestOut,
    summary="Reject a care link request",
    description="Staff of the person's area reject a relation they could not verify. A request already decided is 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reject(
    request_id: int, session: Session, principal: CareLinksDecider, data: DecisionIn | None = None
) -> CareLinkRequestOut:
    request, elder = await service.decide(
        session, principal, request_id, approve=False, note=data.note if data else None
    )
    return service.staff_view(request, elder)


@router.delete(
    "/elders/{elder_id}/carers/{subject}",
    status_code=204,
    summary="End a care link",
    description="Staff of the person's area end a resident's right to act for the person.",
    responses=problem_responses(401, 403, 404),
)
async def end_link(
    elder_id: int,
    subject: Annotated[str, Path(min_length=1, max_length=200)],
    session: Session,
    principal: CareLinksDecider,
) -> Response:
    await service.end_link(session, principal, elder_id, subject)
    return Response(status_code=204)
