from typing import Annotated

from fastapi import APIRouter, Query

from services.assistance.indicators import service
from services.assistance.scopes import INDICATORS_READ
from shared import clock
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.identity import Principal, require
from shared.indicators import Indicators

router = APIRouter(tags=["indicators 指标"])


@router.get(
    "/indicators",
    response_model=Indicators,
    summary="Assistance indicators for an area",
    description="The suite's one indicators shape (`shared/indicators.py`): a list of figures, each with a "
    "stable `code`, `value`, `unit`, `area`, `as_of` (a day) and, where the plan sets one, its "
    "`target`. Codes: `households`, `persons` and `monthly_grants` (fen) by `programme` (低保, "
    "低保边缘, 特困, 孤儿, 困境儿童, 残疾人两项补贴; every programme, zeros included), "
    "`monthly_grants` of all programmes, `leads_open` (数据找人), `reviews_overdue` and "
    "`dibao_standard` (the 低保 standard in force, target ≥ 1,100 yuan a month; absent when "
    "none is on record), for your area (or `area_code` within it). One level down (city → "
    "districts → streets → communities), the same codes per part with its own `area`: the "
    "programmes present there, leads and overdue reviews.",
    responses=problem_responses(401, 403, 422),
)
async def get_indicators(
    session: Session,
    principal: Annotated[Principal, require(INDICATORS_READ)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
) -> Indicators:
    return await service.indicators(session, principal, area_code, clock.today())
