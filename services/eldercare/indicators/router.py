from typing import Annotated

from fastapi import APIRouter, Query

from services.eldercare.indicators.service import Indicators, compute
from services.eldercare.scopes import INDICATORS_READ
from shared import clock
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import Forbidden, problem_responses
from shared.identity import Principal, require
from shared.params import IsoDate

router = APIRouter(tags=["indicators 指标"])


@router.get("/indicators", response_model=Indicators, summary="Eldercare indicators against the plan's targets",
            description="Canteens by kind, 标准化老年食堂 (target: 150 new), 助餐点 and 中央厨房 each counted on its own, "
                        "meals served on a day, beds by type, the share of nursing-type beds "
                        "(target ≥ 60%), dementia-care beds (+960), family care beds (800), certified caregivers per "
                        "10,000 older people (≥ 27), and visits verified, flagged and missed — for an area (default: "
                        "the caller's; partners and auditors: the city).",
            responses=problem_responses(401, 403, 422))
async def indicators(session: Session, principal: Annotated[Principal, require(INDICATORS_READ)],
                     area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
                     day: IsoDate | None = None) -> Indicators:
    area = area_code or principal.area or "330200"
    if principal.kind == "staff" and not principal.covers(area):
        raise Forbidden(f"area {area} is outside your area {principal.area}")
    return await compute(session, area_code=area, day=day or clock.today())
