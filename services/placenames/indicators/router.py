"""Indicators (指标) of the plan for the cockpit: counted from the registers, never stored twice."""

import datetime as dt

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import func, select

from services.placenames.addresses.models import Address
from services.placenames.names.models import NameEvent, PlaceName
from services.placenames.plates.models import DoorPlate
from services.placenames.names.service import FILING_DAYS, filing_missed
from shared import clock
from shared.db import Session
from shared.errors import problem_responses
from shared.schemas import Schema

router = APIRouter(tags=["indicators 指标"])


class IndicatorsOut(Schema):
    standard_addresses: int = Field(description="Current standard addresses (标准地址数)")
    plates_issued: int = Field(description="Door plates in use (在用门牌数)")
    standard_names: int
    naming_events: int
    renaming_events: int = Field(description="更名")
    unified_roads: int = Field(description="Roads unified so far (道路名称统一)")
    unification_plan_roads: int = Field(description="The plan's target: 16 roads in 10 groups")
    unification_progress: float = Field(description="unified_roads / unification_plan_roads, at most 1")
    rectified_names: int = Field(description="Non-standard names rectified (不规范地名整治)")
    filings_missed: int = Field(description=f"Decisions not filed within {FILING_DAYS} days")


@router.get("/indicators", response_model=IndicatorsOut, summary="The plan's place-name indicators (public)",
            description="For the cockpit (民政数字驾驶舱): standard addresses, plates in use, renaming events, "
                        "unifications done against the plan's 16 roads, rectified non-standard names, and decisions "
                        "whose filing was missed.",
            responses=problem_responses(503))
async def indicators(request: Request, session: Session) -> IndicatorsOut:
    async def count(query) -> int:
        return int(await session.scalar(query) or 0)

    events = dict((await session.execute(select(NameEvent.kind, func.count()).group_by(NameEvent.kind))).all())
    unified = await count(select(func.count(func.distinct(NameEvent.name_id))).where(NameEvent.kind == "unification"))
    # Date arithmetic differs between the backends; decisions are few, so the rule runs here, as in the API.
    today = clock.today()
    missed = sum(filing_missed(e, today) for e in await session.scalars(
        select(NameEvent).where(NameEvent.decided_on < today - dt.timedelta(days=FILING_DAYS))))
    target = request.app.state.settings.unification_plan_roads
    return IndicatorsOut(
        standard_addresses=await count(select(func.count()).select_from(Address).where(Address.status == "current")),
        plates_issued=await count(select(func.count()).select_from(DoorPlate).where(DoorPlate.status == "issued")),
        standard_names=await count(select(func.count()).select_from(PlaceName).where(PlaceName.status == "standard")),
        naming_events=events.get("naming", 0), renaming_events=events.get("renaming", 0), unified_roads=unified,
        unification_plan_roads=target, unification_progress=round(min(unified / target, 1.0), 3) if target else 0.0,
        rectified_names=events.get("rectification", 0), filings_missed=missed)
