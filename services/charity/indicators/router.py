from typing import Annotated

from fastapi import APIRouter, Query

from services.charity.indicators import service
from services.charity.indicators.schemas import Indicators
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(tags=["indicators 指标"])


@router.get("/indicators", response_model=Indicators, summary="Charity indicators against the plan's targets",
            description="No sign-in (aggregates only). Organisations registered (target more than 100) and new this "
                        "year (target 11), charities and qualified ones; projects by status; money donated, "
                        "refunded, raised and spent this year and in all, from the ledger; charity trusts per "
                        "district; community fund coverage (target 90%); one-day donation campaigns' participation "
                        "(target 95%). For the city or one district.",
            responses=problem_responses(422))
async def get_indicators(session: Session,
                         district: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None) -> Indicators:
    return await service.indicators(session, district)
