from fastapi import APIRouter, Request

from services.placenames.indicators import service
from shared.db import Session
from shared.errors import problem_responses
from shared.indicators import Indicators

router = APIRouter(tags=["indicators 指标"])


@router.get(
    "/indicators",
    response_model=Indicators,
    summary="The plan's place-name indicators (public)",
    description="For the cockpit (民政数字驾驶舱), in the suite's one indicators shape "
    "(`shared/indicators.py`): a list of figures, each with a stable `code`, `value`, `unit`, "
    "`area` (always the city, 330200: the registers are city-wide), `as_of` (a day) and, where "
    "the plan sets one, its `target`. Codes: `standard_addresses`, `plates_issued`, "
    "`standard_names`, `naming_events`, `renaming_events`, `unified_roads` (target: the plan's "
    "16 roads), `unification_progress` (ratio), `rectified_names` (non-standard names "
    "rectified) and `filings_missed` (decisions whose filing was missed).",
    responses=problem_responses(503),
)
async def indicators(request: Request, session: Session) -> Indicators:
    return await service.indicators(session, plan_roads=request.app.state.settings.unification_plan_roads)
