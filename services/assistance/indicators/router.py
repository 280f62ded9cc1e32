from typing import Annotated

from fastapi import APIRouter, Query

from services.assistance.indicators import service
from services.assistance.indicators.service import Indicators
from services.assistance.scopes import INDICATORS_READ
from shared import clock
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.identity import Principal, require

router = APIRouter(tags=["indicators 指标"])


@router.get("/indicators", response_model=Indicators, summary="Assistance indicators for an area",
            description="Households and persons per programme (低保, 低保边缘, 特困, 孤儿, 困境儿童, 残疾人两项补贴), "
                        "monthly grants paid, open leads (数据找人) and overdue periodic reviews, for your area (or "
                        "`area_code` within it), in total and one level down (city → districts → streets → "
                        "communities).", responses=problem_responses(401, 403, 422))
async def get_indicators(session: Session, principal: Annotated[Principal, require(INDICATORS_READ)],
                         area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None
                         ) -> Indicators:
    return await service.indicators(session, principal, area_code, clock.today())
