"""Indicators (指标) of the plan for the cockpit: counted from the registers, never stored twice.

The registers are the city's: every figure covers the whole city (330200), whatever area the cockpit shows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.addresses.models import Address
from services.placenames.names.models import NameEvent, PlaceName
from services.placenames.names.service import FILING_DAYS, filing_missed
from services.placenames.plates.models import DoorPlate
from shared import clock
from shared.areas import CITY_CODE
from shared.indicators import Figures, Indicators, target


async def indicators(session: AsyncSession, *, plan_roads: int) -> Indicators:
    async def count(query) -> int:
        return int(await session.scalar(query) or 0)

    events = dict((await session.execute(select(NameEvent.kind, func.count()).group_by(NameEvent.kind))).all())
    unified = await count(select(func.count(func.distinct(NameEvent.name_id))).where(NameEvent.kind == "unification"))
    # Date arithmetic differs between the backends; decisions are few, so the rule runs here, as in the API.
    today = clock.today()
    missed = sum(
        filing_missed(e, today)
        for e in await session.scalars(
            select(NameEvent).where(NameEvent.decided_on < today - dt.timedelta(days=FILING_DAYS))
        )
    )
    figures = Figures(CITY_CODE, today)
    figures.add(
        "standard_addresses",
        await count(select(func.count()).select_from(Address).where(Address.status == "current")),
        "count",
        note="current standard addresses (标准地址)",
    )
    figures.add(
        "plates_issued",
        await count(select(func.count()).select_from(DoorPlate).where(DoorPlate.status == "issued")),
        "count",
        note="door plates in use (在用门牌)",
    )
    figures.add(
        "standard_names",
        await count(select(func.count()).select_from(PlaceName).where(PlaceName.status == "standard")),
        "count",
    )
    figures.add("naming_events", int(events.get("naming", 0)), "count")
    figures.add("renaming_events", int(events.get("renaming", 0)), "count", note="更名")
    figures.add(
        "unified_roads",
        unified,
        "count",
        note="roads unified so far (道路名称统一)",
        target=target(plan_roads, unified, scope="city", note="16 roads in 10 groups"),
    )
    figures.add(
        "unification_progress",
        round(min(unified / plan_roads, 1.0), 3) if plan_roads else 0.0,
        "ratio",
        note="unified_roads / the plan's roads, at most 1",
    )
    figures.add(
        "rectified_names",
        int(events.get("rectification", 0)),
        "count",
        note="non-standard names rectified (不规范地名整治)",
    )
    figures.add("filings_missed", missed, "count", note=f"decisions not filed within {FILING_DAYS} days")
    return figures.answer()
