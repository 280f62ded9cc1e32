"""Capability assessments: server-computed scores and level, two assessors, re-assessment every 6 months."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.eldercare.assessment.models import Assessment
from services.eldercare.assessment.schemas import LEVEL_NAMES, AssessmentIn, AssessmentOut, DueOut
from services.eldercare.assessment.template import Template, load
from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import get_visible, visible_to
from shared import clock
from shared.db import one_or_404, utcnow
from shared.errors import FieldProblem, Forbidden, InvalidInput
from shared.i18n import ENGLISH
from shared.identity import Principal


def add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _invalid(problems: list[FieldProblem]) -> InvalidInput:
    error = InvalidInput(problems[0].field, problems[0].message)
    error.errors = problems
    error.detail = "; ".join(f"{p.field}: {p.localized(ENGLISH)['message']}" for p in problems[:5])
    return error


def to_out(a: Assessment, template: Template | None = None) -> AssessmentOut:
    """Not a 1:1 mapping: adds the level's name and the date the next assessment is due."""
    months = (template or load()).reassessment_months
    return AssessmentOut(
        id=a.id,
        elder_id=a.elder_id,
        template_version=a.template_version,
        assessed_on=a.assessed_on,
        reason=a.reason,
        answers=a.answers,
        indicator_scores=a.indicator_scores,
        total=a.total,
        raw_level=a.raw_level,
        level=a.level,
        level_name=LEVEL_NAMES[a.level],
        adjustments=a.adjustments,
        assessors=[a.assessor_1, a.assessor_2],
        next_due_on=add_months(a.assessed_on, months),
        created_at=a.created_at,
    )


async def record(session: AsyncSession, principal: Principal, data: AssessmentIn) -> Assessment:
    if principal.kind != "staff":
        raise Forbidden("assessments are recorded by staff")
    elder = await get_visible(session, principal, data.elder_id)
    if data.assessed_on > clock.today():
        raise InvalidInput("assessed_on", "must not be in the future")
    first, second = (a.strip() for a in data.assessors)
    if not first or not second or first == second:
        raise InvalidInput("assessors", "two different assessors sign an assessment")
    template = load()
    problems = template.problems(data.answers)
    if problems:
        raise _invalid(problems)
    scored = template.score(
        data.answers,
        coma=data.coma,
        dementia_or_mental_disorder=data.dementia_or_mental_disorder,
        care_risk_events_30d=data.care_risk_events_30d,
    )
    assessment = Assessment(
        elder_id=elder.id,
        template_version=template.version,
        assessed_on=data.assessed_on,
        reason=data.reason,
        answers=data.answers,
        indicator_scores=scored.indicator_scores,
        total=scored.total,
        raw_level=scored.raw_level,
        level=scored.level,
        coma=data.coma,
        dementia_or_mental_disorder=data.dementia_or_mental_disorder,
        care_risk_events_30d=data.care_risk_events_30d,
        adjustments=scored.adjustments,
        assessor_1=first,
        assessor_2=second,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(assessment)
    await session.flush()
    return assessment


async def get(session: AsyncSession, principal: Principal, assessment_id: int) -> Assessment:
    elders = visible_to(principal).with_only_columns(Elder.id)
    return await one_or_404(
        session,
        select(Assessment).where(Assessment.id == assessment_id, Assessment.elder_id.in_(elders)),
        "no assessment {assessment_id} that you may see",
        assessment_id=assessment_id,
    )


async def history(session: AsyncSession, principal: Principal, elder_id: int) -> list[Assessment]:
    await get_visible(session, principal, elder_id)
    return list(
        await session.scalars(
            select(Assessment)
            .where(Assessment.elder_id == elder_id)
            .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        )
    )


async def latest_level(session: AsyncSession, elder_id: int) -> int | None:
    return await session.scalar(
        select(Assessment.level)
        .where(Assessment.elder_id == elder_id)
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        .limit(1)
    )


def last_assessed_due_by(horizon: dt.date, months: int) -> dt.date:
    """The latest assessment day whose renewal (`add_months(day, months)`) falls on or before `horizon`. Not simply
    `add_months(horizon, -months)`: a 31 March assessment is due on 30 September, and six months before 30 September
    is the 30th, which would leave it out on its due day. On a horizon that is the last day of its month, every day
    to the end of the month six months before is due."""
    cutoff = add_months(horizon, -months)
    if (horizon + dt.timedelta(days=1)).month != horizon.month:  # the horizon ends its month
        cutoff = add_months(cutoff.replace(day=1), 1) - dt.timedelta(days=1)
    return cutoff


async def due(session: AsyncSession, principal: Principal, *, within_days: int, limit: int) -> list[DueOut]:
    """People whose latest assessment is due for renewal (6 months) within `within_days`, or overdue."""
    months = load().reassessment_months
    today = clock.today()
    horizon = today + dt.timedelta(days=within_days)
    elders = visible_to(principal).with_only_columns(Elder.id)
    # The latest assessment is the latest by its day, as everywhere else (`latest_level`, `history`), not the last
    # one entered: a paper record of January typed in after November's made a person assessed last month overdue.
    newer = aliased(Assessment)
    later_one = (
        select(newer.id)
        .where(
            newer.elder_id == Assessment.elder_id,
            or_(
                newer.assessed_on > Assessment.assessed_on,
                and_(newer.assessed_on == Assessment.assessed_on, newer.id > Assessment.id),
            ),
        )
        .exists()
    )
    rows = await session.scalars(
        select(Assessment)
        .where(Assessment.elder_id.in_(elders), ~later_one)
        .where(Assessment.assessed_on <= last_assessed_due_by(horizon, months))
        .order_by(Assessment.assessed_on, Assessment.id)
        .limit(limit)
    )
    result = []
    for a in rows:
        due_on = add_months(a.assessed_on, months)
        result.append(
            DueOut(
                elder_id=a.elder_id,
                last_assessment_id=a.id,
                last_assessed_on=a.assessed_on,
                level=a.level,
                due_on=due_on,
                overdue=due_on < today,
            )
        )
    return result
