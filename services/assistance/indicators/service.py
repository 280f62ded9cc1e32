"""Indicators for the cockpit (驾驶舱): programmes, grants, the 低保 standard, leads and overdue reviews, by area."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.applications.models import Application
from services.assistance.households.models import Household
from services.assistance.leads.models import Lead
from services.assistance.policies import service as policies
from services.assistance.programmes.models import Enrolment
from shared.areas import area_prefix, within_area
from shared.errors import NotFound
from shared.identity import Principal
from shared.indicators import Figures, Indicators, target
from shared.programmes import PROGRAMMES

# The level the figures are broken down by, one below the asked area: city → district → street → community.
NEXT_LEVEL = {4: 6, 6: 9, 9: 12, 12: 12}
DIBAO_STANDARD_FLOOR_FEN = 110_000  # the plan: 低保标准 at least 1,100 yuan a month in 2022


async def indicators(session: AsyncSession, principal: Principal, area_code: str | None, today: dt.date) -> Indicators:
    area = area_code or principal.area
    principal.check_covers(area)
    prefix = area_prefix(area)
    level = NEXT_LEVEL.get(len(prefix), 12)
    group = func.substr(Household.area_code, 1, level).label("area")
    current = [Enrolment.since_on <= today, or_(Enrolment.until_on.is_(None), Enrolment.until_on > today)]
    enrolled = (
        await session.execute(
            select(
                group,
                Enrolment.programme,
                func.count(distinct(Enrolment.household_id)),
                func.count(),
                func.coalesce(func.sum(Enrolment.monthly_fen), 0),
            )
            .join(Household, Household.id == Enrolment.household_id)
            .where(within_area(Household.area_code, area), *current)
            .group_by(group, Enrolment.programme)
        )
    ).all()
    lead_group = func.substr(Lead.area_code, 1, level).label("area")
    leads = dict(
        (
            await session.execute(
                select(lead_group, func.count())
                .where(within_area(Lead.area_code, area), Lead.state == "open")
                .group_by(lead_group)
            )
        ).all()
    )
    review_group = func.substr(Application.area_code, 1, level).label("area")
    overdue = dict(
        (
            await session.execute(
                select(review_group, func.count())
                .where(
                    within_area(Application.area_code, area),
                    Application.state == "approved",
                    Application.review_due_on < today,
                )
                .group_by(review_group)
            )
        ).all()
    )

    figures = Figures(area, today)
    # The whole area: every programme, none in it a zero (a household may be in two, so no sum of households).
    totals = {p: [0, 0, 0] for p in PROGRAMMES}
    for _, programme, households, persons, grants in enrolled:
        for i, n in enumerate((households, persons, grants)):
            totals[programme][i] += int(n)
    for programme, (households, persons, grants) in totals.items():
        figures.add("households", households, "count", programme=programme)
        figures.add("persons", persons, "count", programme=programme)
        figures.add(
            "monthly_grants",
            grants,
            "fen",
            programme=programme,
            note="current monthly grants (低保金, 特困供养金, 补贴)",
        )
    figures.add("monthly_grants", sum(t[2] for t in totals.values()), "fen", note="all programmes' current grants")
    figures.add("leads_open", sum(leads.values()), "count", note="数据找人 leads not yet closed")
    figures.add("reviews_overdue", sum(overdue.values()), "count", note="approved applications past their review")
    try:
        standard = (await policies.in_force(session, as_of=today, district_code=area[:6], code="dibao_standard"))[0]
    except NotFound:
        standard = None  # no 低保 standard on record: no figure, rather than a zero
    if standard is not None:
        figures.add(
            "dibao_standard",
            standard.value,
            "fen_per_month",
            target=target(
                DIBAO_STANDARD_FLOOR_FEN, standard.value, scope="area", note="低保标准 at least 1,100 yuan a month"
            ),
            note="the 低保 standard in force: the district's own where it has one, else the city's",
        )

    # One level down: the programmes present in each part, and its leads and overdue reviews. A part that is the
    # area itself (a community asked) is the whole, given above.
    parts = sorted(({row[0] for row in enrolled} | set(leads) | set(overdue)) - {area})
    for code, programme, households, persons, grants in sorted(enrolled, key=lambda row: (row[0], row[1])):
        if code in parts:
            figures.add("households", int(households), "count", area=code, programme=programme)
            figures.add("persons", int(persons), "count", area=code, programme=programme)
            figures.add("monthly_grants", int(grants), "fen", area=code, programme=programme)
    for code in parts:
        figures.add("leads_open", int(leads.get(code, 0)), "count", area=code)
        figures.add("reviews_overdue", int(overdue.get(code, 0)), "count", area=code)
    return figures.answer()
