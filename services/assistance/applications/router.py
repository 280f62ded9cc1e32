from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.assistance.applications import service
from services.assistance.applications.auth import ApplicationsReader, ApplicationsWriter
from services.assistance.applications.schemas import (
    ApplicationIn,
    ApplicationOut,
    DecisionIn,
    InvestigationIn,
    ObjectionIn,
    PreliminaryReviewIn,
    PublicNoticeIn,
    ReviewDueOut,
    State,
)
from services.assistance.database import IDEMPOTENCY_KEYS
from shared import clock
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.params import IsoDate

router = APIRouter(tags=["applications 救助申请审核"])
STEP_ERRORS = problem_responses(401, 403, 404, 409, 422)


async def _out(session, application) -> ApplicationOut:
    return service.to_out(application, await service.events_of(session, application.id))


@router.post(
    "/applications",
    status_code=201,
    response_model=ApplicationOut,
    summary="Accept an application (受理)",
    description="Community or street staff accept an application of a household in their area for one "
    "programme (for 特困, 孤儿, 困境儿童 and the disability subsidies, for one member). A second "
    "open application for the same household and programme is a 409 naming it. Retries with "
    "the same `Idempotency-Key` are safe.",
    responses=STEP_ERRORS,
)
async def create_application(
    data: ApplicationIn,
    request: Request,
    session: Session,
    principal: ApplicationsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ApplicationOut:
    async def create() -> ApplicationOut:
        return await _out(session, await service.create(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/applications",
    response_model=Page[ApplicationOut],
    summary="Applications in your area",
    description="Applications of households in your area and below, oldest first, with their audit trail; "
    "filter by `area_code` (a street or community) and `state` (accepted 受理, investigated 入户调查, "
    "reviewed 初审, publicised 公示, approved, rejected).",
    responses=problem_responses(401, 403, 422),
)
async def list_applications(
    session: Session,
    principal: ApplicationsReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    state: State | None = None,
) -> Page[ApplicationOut]:
    rows = await service.list_visible(session, principal, page, area_code=area_code, state=state)
    return page_of([await _out(session, a) for a in rows], page, key=lambda a: a.id)


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationOut,
    summary="One application",
    description="With its audit trail: every step, who took it, from which area, when.",
    responses=problem_responses(401, 403, 404),
)
async def get_application(application_id: int, session: Session, principal: ApplicationsReader) -> ApplicationOut:
    return await _out(session, await service.get_visible(session, principal, application_id))


@router.post(
    "/applications/{application_id}/investigation",
    response_model=ApplicationOut,
    summary="Record the home visit (入户调查)",
    description="Community or street staff, after 受理. A step out of order is a 409.",
    responses=STEP_ERRORS,
)
async def investigation(
    application_id: int, data: InvestigationIn, session: Session, principal: ApplicationsWriter
) -> ApplicationOut:
    return await _out(session, await service.investigate(session, principal, application_id, data))


@router.post(
    "/applications/{application_id}/preliminary-review",
    response_model=ApplicationOut,
    summary="Preliminary review (初审)",
    description="Street (乡镇/街道) staff, after the home visit; a "
    "failed review rejects the application with its reasons.",
    responses=STEP_ERRORS,
)
async def preliminary_review(
    application_id: int, data: PreliminaryReviewIn, session: Session, principal: ApplicationsWriter
) -> ApplicationOut:
    return await _out(session, await service.preliminary_review(session, principal, application_id, data))


@router.post(
    "/applications/{application_id}/public-notice",
    response_model=ApplicationOut,
    summary="Start the public notice (公示)",
    description="Street staff, after 初审: 7 days from `starts_on` "
    "(default today), during which objections are recorded.",
    responses=STEP_ERRORS,
)
async def public_notice(
    application_id: int, data: PublicNoticeIn, session: Session, principal: ApplicationsWriter
) -> ApplicationOut:
    return await _out(session, await service.public_notice(session, principal, application_id, data))


@router.post(
    "/applications/{application_id}/objections",
    response_model=ApplicationOut,
    summary="Record an objection (公示异议)",
    description="Only during the 7-day notice; outside it, 409.",
    responses=STEP_ERRORS,
)
async def objection(
    application_id: int, data: ObjectionIn, session: Session, principal: ApplicationsWriter
) -> ApplicationOut:
    return await _out(session, await service.object_to(session, principal, application_id, data))


@router.post(
    "/applications/{application_id}/decision",
    response_model=ApplicationOut,
    summary="Approve or reject (审核确认)",
    description="District staff, after the notice has run its 7 "
    "days. Approval re-runs the eligibility rules in force today (an ineligible result is a 409 naming the "
    "failed criteria), stores that result, computes the monthly grant, enrols the members and schedules "
    "the periodic review: yearly when income is stable, every 6 months when a member can work or income "
    "is irregular.",
    responses=STEP_ERRORS,
)
async def decision(
    application_id: int, data: DecisionIn, session: Session, principal: ApplicationsWriter
) -> ApplicationOut:
    return await _out(session, await service.decide(session, principal, application_id, data))


@router.get(
    "/reviews-due",
    response_model=Page[ReviewDueOut],
    summary="Periodic reviews due in your area (定期复核)",
    description="Approved applications whose review falls on or before `due_by` (default today), soonest "
    "first, with `overdue` when the date has passed.",
    responses=problem_responses(401, 403, 422),
)
async def reviews_due(
    session: Session,
    principal: ApplicationsReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    due_by: IsoDate | None = None,
) -> Page[ReviewDueOut]:
    rows = await service.reviews_due(session, principal, page, area_code=area_code, due_by=due_by or clock.today())
    return page_of(rows, page, key=lambda r: [r.review_due_on.isoformat(), r.application_id])
