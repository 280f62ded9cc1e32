from fastapi import APIRouter

from services.assistance.eligibility import service
from services.assistance.eligibility.auth import EligibilityChecker
from services.assistance.eligibility.schemas import EligibilityCheckIn, EligibilityOut
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(tags=["eligibility 资格认定"])


@router.post(
    "/eligibility-checks",
    response_model=EligibilityOut,
    summary="Check a household's eligibility",
    description="For a recorded household in your area (`household_id`) or one given inline (`household`), "
    "on `as_of` (default today; an earlier day applies the rules in force then, for appeals): "
    "the result for each programme — 低保, 低保边缘, 特困, 集中供养孤儿, 散居孤儿, 困境儿童, "
    "困难残疾人生活补贴, 重度残疾人护理补贴 — with every criterion's code, pass or fail, the value "
    "used, the threshold, the policy version and citation, and the sources of the inputs. 低保 "
    "grant = (standard − per-capita income) × members, in fen, rounded up per "
    "`dibao_grant_rounding`. A day before any rule was in force is a 422 on `as_of`. Nothing is "
    "written.",
    responses=problem_responses(401, 403, 404, 422),
)
async def eligibility_check(
    data: EligibilityCheckIn, session: Session, principal: EligibilityChecker
) -> EligibilityOut:
    return await service.check(session, principal, data)
