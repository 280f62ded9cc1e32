from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.eldercare.assessment import service
from services.eldercare.assessment.auth import AssessmentsReader, AssessmentsWriter
from services.eldercare.assessment.schemas import AssessmentIn, AssessmentOut, DueOut
from services.eldercare.assessment.template import load
from services.eldercare.database import IDEMPOTENCY_KEYS
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent

router = APIRouter(tags=["capability assessment 老年人能力评估"])


@router.get(
    "/assessment-template",
    summary="The assessment template in use",
    description="GB/T 42195-2022 as data: 4 first-level indicators (自理能力, 基础运动能力, 精神状态, "
    "感知觉与社会参与), 26 items with their maxima, the level bands (0 能力完好 … 4 完全失能), the "
    "adjustments, and the source with what could and could not be verified.",
    responses=problem_responses(401, 403),
)
async def template(_p: AssessmentsReader) -> dict:
    return load().raw


@router.post(
    "/assessments",
    status_code=201,
    response_model=AssessmentOut,
    summary="Record an assessment",
    description="Staff record the item answers; the server scores every indicator, the total and the level, "
    "then applies the adjustments (昏迷 → 完全失能; 认知障碍/精神障碍, or 2+ care-risk events in 30 "
    "days → one level worse), and stores the template version. Totals sent by the client are "
    "ignored. Two different assessors are required.",
    responses=problem_responses(401, 403, 404, 422),
)
async def record(
    data: AssessmentIn,
    request: Request,
    session: Session,
    principal: AssessmentsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AssessmentOut:
    async def create() -> AssessmentOut:
        return service.to_out(await service.record(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/assessments/due",
    response_model=list[DueOut],
    summary="Re-assessments due",
    description="People whose latest assessment turns 6 months old within `within_days` (default 30), or "
    "already has (`overdue`), oldest first.",
    responses=problem_responses(401, 403, 422),
)
async def due(
    session: Session,
    principal: AssessmentsReader,
    within_days: Annotated[int, Query(ge=0, le=366)] = 30,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DueOut]:
    return await service.due(session, principal, within_days=within_days, limit=limit)


@router.get(
    "/assessments",
    response_model=list[AssessmentOut],
    summary="A person's assessments",
    description="Newest first.",
    responses=problem_responses(401, 403, 404, 422),
)
async def history(elder_id: int, session: Session, principal: AssessmentsReader) -> list[AssessmentOut]:
    return [service.to_out(a) for a in await service.history(session, principal, elder_id)]


@router.get(
    "/assessments/{assessment_id}",
    response_model=AssessmentOut,
    summary="One assessment",
    description="Answers, computed scores, level (等级) and adjustments, with the template version and the next due date.",
    responses=problem_responses(401, 403, 404),
)
async def get(assessment_id: int, session: Session, principal: AssessmentsReader) -> AssessmentOut:
    return service.to_out(await service.get(session, principal, assessment_id))
