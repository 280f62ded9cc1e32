from typing import Annotated

from fastapi import APIRouter, Query

from services.eldercare.indicators.service import compute
from services.eldercare.scopes import INDICATORS_READ
from shared import clock
from shared.areas import CITY_CODE, DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import Forbidden, problem_responses
from shared.identity import Principal, require
from shared.indicators import Indicators
from shared.params import IsoDate

router = APIRouter(tags=["indicators 指标"])


@router.get(
    "/indicators",
    response_model=Indicators,
    summary="Eldercare indicators against the plan's targets",
    description="The suite's one indicators shape (`shared/indicators.py`): a list of figures, each with a "
    "stable `code`, `value`, `unit`, `area`, `as_of` (a day) and, where the plan sets one, its "
    "`target`. Codes: `canteens` by `kind` (central_kitchen, canteen, meal_point; the plan's "
    "150 new 标准化老年食堂 is the target of the canteen level alone), `meals_served` on `day`, "
    "`beds` (target +4,000) and by `bed_type` (dementia: +960), `nursing_bed_share` (ratio, "
    "target ≥ 0.6), `family_beds` (800), `certified_caregivers_per_10k` older people (≥ 27) "
    "and `visits` by `status` (verified, flagged, missed). For an area (default: the "
    "caller's; partners and auditors: the city).",
    responses=problem_responses(401, 403, 422),
)
async def indicators(
    session: Session,
    principal: Annotated[Principal, require(INDICATORS_READ)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    day: IsoDate | None = None,
) -> Indicators:
    area = area_code or principal.area or CITY_CODE
    if principal.kind == "staff" and not principal.covers(area):
        raise Forbidden("area {area} is outside your area {area2}", area=area, area2=principal.area)
    return await compute(session, area_code=area, day=day or clock.today())
