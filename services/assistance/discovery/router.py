from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse

from services.assistance.discovery import flows, screenings, signals
from services.assistance.discovery.auth import Screener, SignalsWriter
from services.assistance.discovery.schemas import ScreeningIn, ScreeningOut, SignalIn, SignalOut
from services.assistance.leads.schemas import LeadOut
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["discovery 数据找人"])


@router.post(
    "/screenings",
    status_code=202,
    response_model=ScreeningOut,
    summary="Start a screening",
    description="Evaluates every household of the area (default: your whole area; the city bureau's is the "
    "whole city) with the set-based form of the eligibility rules, and lists those who look "
    "eligible for a programme they do not receive. Runs as a background job in a worker process: "
    "poll `GET /screenings/{id}`. The job checkpoints after every chunk and survives a restart "
    "of its worker (another resumes it, or it reports `failed` with the reason).",
    responses=problem_responses(401, 403, 422),
)
async def start_screening(data: ScreeningIn, request: Request, session: Session, principal: Screener) -> JSONResponse:
    out = await flows.start_screening(session, principal, data)
    return JSONResponse(
        out.model_dump(mode="json"), status_code=202, headers={"Location": f"{request.url.path}/{out.id}"}
    )


@router.get(
    "/screenings/{screening_id}",
    response_model=ScreeningOut,
    summary="A screening's progress",
    description="State (queued, running, done, failed: with the reason, a cancelled job's included), "
    "progress in percent, leads found so far, and the worker job that runs it.",
    responses=problem_responses(401, 403, 404),
)
async def get_screening(screening_id: int, session: Session, principal: Screener) -> ScreeningOut:
    return await screenings.read_screening(session, principal, screening_id)


@router.get(
    "/screenings/{screening_id}/leads",
    response_model=Page[LeadOut],
    summary="Leads of a screening",
    description="Households (or members) who look eligible for a programme they do not receive, by area "
    "(`area` narrows to a street or community) for community workers to visit, with the figures "
    "behind each.",
    responses=problem_responses(401, 403, 404, 422),
)
async def screening_leads(
    screening_id: int,
    session: Session,
    principal: Screener,
    page: Annotated[PageParams, Depends(page_params)],
    area: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
) -> Page[LeadOut]:
    rows = await screenings.list_leads(session, principal, screening_id, page, area_code=area)
    return page_of([LeadOut.model_validate(r) for r in rows], page, key=lambda lead: [lead.area_code, lead.id])


@router.post(
    "/signals",
    status_code=201,
    response_model=SignalOut,
    summary="Receive a partner's signal",
    description="A partner department reports an event about a person: a large medical bill (医保), a job "
    "loss (人社), a new disability record (残联), a disaster (应急管理), a housing change (住建). "
    "The person's household is re-evaluated with the rules in force today and a lead is opened "
    "for every programme it looks eligible for but does not receive. Idempotent by the "
    "partner's `signal_id`: a resend returns the first result (200, `Idempotent-Replayed: "
    "true`) and opens nothing new; the same id about another person, kind, day, amount or "
    "disability is a 409 naming the recorded signal.",
    responses=problem_responses(401, 403, 409, 422),
)
async def receive_signal(data: SignalIn, session: Session, principal: SignalsWriter) -> JSONResponse:
    out, replayed = await signals.receive_signal(session, principal, data)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=200 if replayed else 201,
        headers={"Idempotent-Replayed": "true"} if replayed else {},
    )
