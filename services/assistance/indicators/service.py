"""Indicators for the cockpit (驾驶舱): programmes, grants, leads and overdue reviews, by area."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.applications.models import Application
from services.assistance.households.models import Household
from services.assistance.leads.models import Lead
from services.assistance.programmes.models import Enrolment
from services.assistance.programmes.schemas import ProgrammeCode
from shared.areas import area_prefix, within_area
from shared.errors import Forbidden
from shared.identity import Principal
from shared.schemas import Schema

# The level the figures are broken down by, one below the asked area: city → district → street → community.
NEXT_LEVEL = {4: 6, 6: 9, 9: 12, 12: 12}


class ProgrammeFigures(Schema):
    programme: ProgrammeCode
    households: int
    persons: int
    monthly_grants_fen: int = Field(description="Sum of the current monthly grants (低保金, 特困供养金, 补贴)")


class AreaFigures(Schema):
    area_code: str = Field(description="The area (or its code prefix, one level below the one asked)")
    programmes: list[ProgrammeFigures]
    leads_open: int
    reviews_overdue: int


class Indicators(Schema):
    as_of: dt.date
    area_code: str
    totals: AreaFigures
    by_area: list[AreaFigures]


async def indicators(session: AsyncSession, principal: Principal, area_code: str | None,
                     today: dt.date) -> Indicators:
    area = area_code or principal.area
    if not principal.covers(area):
        raise Forbidden(f"area {area} is outside your area {principal.area}")
    prefix = area_prefix(area)
    level = NEXT_LEVEL.get(len(prefix), 12)
    group = func.substr(Household.area_code, 1, level).label("area")
    current = [Enrolment.since_on <= today, or_(Enrolment.until_on.is_(None), Enrolment.until_on > today)]
    enrolled = await session.execute(
        select(group, Enrolment.programme, func.count(distinct(Enrolment.household_id)), func.count(),
               func.coalesce(func.sum(Enrolment.monthly_fen), 0))
        .join(Household, Household.id == Enrolment.household_id)
        .where(within_area(Household.area_code, area), *current).group_by(group, Enrolment.programme))
    lead_group = func.substr(Lead.area_code, 1, level).label("area")
    leads = dict((await session.execute(select(lead_group, func.count()).where(
        within_area(Lead.area_code, area), Lead.state == "open").group_by(lead_group))).all())
    review_group = func.substr(Application.area_code, 1, level).label("area")
    overdue = dict((await session.execute(select(review_group, func.count()).where(
        within_area(Application.area_code, area), Application.state == "approved",
        Application.review_due_on < today).group_by(review_group))).all())
    by_area: dict[str, list[ProgrammeFigures]] = {}
    for code, programme, households, persons, grants in enrolled:
        by_area.setdefault(code, []).append(ProgrammeFigures(programme=programme, households=households,
                                                             persons=persons, monthly_grants_fen=int(grants)))
    codes = sorted(set(by_area) | set(leads) | set(overdue))
    areas = [AreaFigures(area_code=c, programmes=sorted(by_area.get(c, []), key=lambda p: p.programme),
                         leads_open=leads.get(c, 0), reviews_overdue=overdue.get(c, 0)) for c in codes]
    totals: dict[str, ProgrammeFigures] = {}
    for a in areas:
        for p in a.programmes:
            t = totals.setdefault(p.programme, ProgrammeFigures(programme=p.programme, households=0, persons=0,
                                                                monthly_grants_fen=0))
            t.households += p.households
            t.persons += p.persons
            t.monthly_grants_fen += p.monthly_grants_fen
    return Indicators(as_of=today, area_code=area, by_area=areas, totals=AreaFigures(
        area_code=area, programmes=sorted(totals.values(), key=lambda p: p.programme),
        leads_open=sum(leads.values()), reviews_overdue=sum(overdue.values())))
