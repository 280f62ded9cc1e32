from typing import Annotated

from fastapi import APIRouter, Query

from services.charity.indicators import service
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.indicators import Indicators

router = APIRouter(tags=["indicators 指标"])


@router.get(
    "/indicators",
    response_model=Indicators,
    summary="Charity indicators against the plan's targets",
    description="No sign-in (aggregates only). The suite's one indicators shape (`shared/indicators.py`): a "
    "list of figures, each with a stable `code`, `value`, `unit`, `area`, `as_of` (a day) and, "
    "where the plan sets one, its `target`. Codes: `organizations_registered` (target more "
    "than 100) and `organizations_new_this_year` (target 11), `charities`, "
    "`fundraising_qualified`; `projects` by `status`; `donations`, `donated`, `refunded`, "
    "`raised` and `spent` (fen, from the ledger) by `period` (this_year, all_time); `trusts`, "
    "`trust_scale` and, for the city, `trusts` per district; `community_fund_coverage` "
    "(percent, target 90); `campaign_participation` of each one-day donation campaign of this "
    "year and last (percent, target 95), by `campaign_id` and `campaign_name`. For the city or "
    "one district.",
    responses=problem_responses(422),
)
async def get_indicators(
    session: Session, district: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None
) -> Indicators:
    return await service.indicators(session, district)
