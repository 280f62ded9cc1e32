from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request

from services.eldercare.calls import service
from services.eldercare.calls.auth import CallHandler, CallRaiser, CallsReader
from services.eldercare.calls.schemas import ActionIn, CallIn, CallOut, CloseIn
from services.eldercare.database import IDEMPOTENCY_KEYS
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/emergency-calls", tags=["emergency calls 为老呼叫"])


@router.post(
    "",
    status_code=201,
    response_model=CallOut,
    summary="Log an emergency call",
    description="A call for help (为老呼叫) for a person the caller may act for: kind, time and location. With an "
    "`Idempotency-Key`, a retry from a phone on a weak network logs the call once.",
    responses=problem_responses(401, 403, 404, 422),
)
async def raise_call(
    data: CallIn,
    request: Request,
    session: Session,
    principal: CallRaiser,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CallOut:
    async def create() -> CallOut:
        return await service.to_out(session, await service.raise_call(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "",
    response_model=Page[CallOut],
    summary="Emergency calls you may see",
    description="Newest first. `status=open` lists the calls still waiting (open or being handled) in the "
    "caller's area.",
    responses=problem_responses(401, 403, 422),
)
async def list_calls(
    session: Session,
    principal: CallsReader,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["open", "handling", "closed"] | None = None,
    elder_id: int | None = None,
) -> Page[CallOut]:
    rows = await service.list_calls(session, principal, page, status=status, elder_id=elder_id)
    return page_of([await service.to_out(session, c) for c in rows], page, key=lambda c: c.id)


@router.get(
    "/{call_id}",
    response_model=CallOut,
    summary="One emergency call, with its handling log",
    description="The call, each handling step (who, what, when) and the outcome.",
    responses=problem_responses(401, 403, 404),
)
async def get(call_id: int, session: Session, principal: CallsReader) -> CallOut:
    return await service.to_out(session, await service.get(session, principal, call_id))


@router.post(
    "/{call_id}/actions",
    response_model=CallOut,
    summary="Log a handling step",
    description="Who did what and when (phoned the family, sent the grid worker…); the first step moves the "
    "call to `handling`.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def act(call_id: int, data: ActionIn, session: Session, principal: CallHandler) -> CallOut:
    return await service.to_out(session, await service.act(session, principal, call_id, data.action))


@router.post(
    "/{call_id}/close",
    response_model=CallOut,
    summary="Close a call with its outcome",
    description="After at least one handling step: the outcome (resolved on site, hospital, false alarm, referred, died).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def close(call_id: int, data: CloseIn, session: Session, principal: CallHandler) -> CallOut:
    return await service.to_out(session, await service.close(session, principal, call_id, data.outcome, data.note))
