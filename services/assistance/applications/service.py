"""The review chain 受理 → 入户调查 → 初审 → 公示 (7 days, objections) → 审核确认, each step by staff of the
right level and area, each audited, each a conditional update so steps cannot run twice or out of order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance import notices
from services.assistance.applications.models import Application, ApplicationEvent, ReviewReminder
from services.assistance.applications.schemas import (
    ApplicationIn,
    ApplicationOut,
    DecisionIn,
    EventOut,
    InvestigationIn,
    ObjectionIn,
    PreliminaryReviewIn,
    PublicNoticeIn,
    ReviewDueOut,
)
from services.assistance.eligibility import service as eligibility
from services.assistance.eligibility.schemas import EligibilityCheckIn
from services.assistance.households import service as households
from services.assistance.households.membership import age_on, membership
from services.assistance.households.models import Household, Member
from services.assistance.programmes import service as programmes
from shared import clock
from shared.areas import area_prefix, within_area
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.identity import Principal
from shared.metrics import count_after_commit
from shared.pagination import PageParams, keyset
from shared.programmes import HOUSEHOLD_PROGRAMMES

NOTICE_DAYS = 7
# ASSUMPTION (no source gives a figure): how far ahead a public notice may be set to start. A notice set to start
# years ahead (2062 typed for 2026) held the application in 公示 with no way out: neither approved nor rejected
# before its end, nor given another notice.
NOTICE_LEAD_DAYS = 30
STABLE_REVIEW_MONTHS, UNSTABLE_REVIEW_MONTHS = 12, 6

# Division levels by the significant length of the staff member's area code.
LEVELS = {12: "community", 9: "street", 6: "district", 4: "city"}
STEP_LEVELS = {
    "accept": ("community", "street"),  # 受理: the street, often through the community's window
    "investigate": ("community", "street"),  # 入户调查
    "preliminary_review": ("street",),  # 初审
    "public_notice": ("street",),  # 公示
    "decide": ("district",),  # 审核确认
}


def level_of(principal: Principal) -> str | None:
    return LEVELS.get(len(area_prefix(principal.area))) if principal.is_area_staff else None


def require_level(principal: Principal, step: str) -> None:
    allowed = STEP_LEVELS[step]
    if level_of(principal) not in allowed:
        raise Forbidden(
            "the step {step} is done by {allowed} staff; you are {level} ({area})",
            step=step,
            allowed=" or ".join(allowed),
            level=level_of(principal) or "-",
            area=principal.area,
        )


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def resource_of(application: Application) -> str:
    return f"applications/{application.id}"


def to_out(application: Application, events: list[ApplicationEvent]) -> ApplicationOut:
    return ApplicationOut(
        id=application.id,
        household_id=application.household_id,
        member_id=application.member_id,
        area_code=application.area_code,
        programme=application.programme,
        state=application.state,
        notice_starts_on=application.notice_starts_on,
        notice_ends_on=application.notice_ends_on,
        reasons=application.reasons,
        monthly_grant_fen=application.monthly_grant_fen,
        review_interval_months=application.review_interval_months,
        review_due_on=application.review_due_on,
        evaluation=application.evaluation,
        events=[EventOut.model_validate(e) for e in events],
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


async def events_of(session: AsyncSession, application_id: int) -> list[ApplicationEvent]:
    return list(
        await session.scalars(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == application_id)
            .order_by(ApplicationEvent.id)
        )
    )


def audit(session: AsyncSession, application_id: int, step: str, principal: Principal, **detail: Any) -> None:
    session.add(
        ApplicationEvent(
            application_id=application_id,
            step=step,
            actor=principal.subject,
            actor_area=principal.area,
            at=utcnow(),
            detail=detail,
        )
    )


async def get_visible(session: AsyncSession, principal: Principal, application_id: int) -> Application:
    query = select(Application).where(Application.id == application_id)
    application = await session.scalar(query)
    if application is None or not principal.covers(application.area_code):
        raise NotFound("no application {application_id} that you may see", application_id=application_id)
    return application


async def _advance(
    session: AsyncSession, application: Application, expected: str, new_state: str, step: str, **values: Any
) -> None:
    """Move the application from `expected` to `new_state` only if nobody moved it first (one row or 409)."""
    if application.state != expected:
        raise Conflict(
            "application {application_id} is {state}; the step {step} needs it {expected}",
            resource=resource_of(application),
            application_id=application.id,
            state=application.state,
            step=step,
            expected=expected,
        )
    result = await session.execute(
        update(Application)
        .where(Application.id == application.id, Application.state == expected)
        .values(state=new_state, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "application {application_id} was moved by someone else; reload it",
            resource=resource_of(application),
            application_id=application.id,
        )
    await session.refresh(application)
    await notices.application_moved(session, application, step)  # in this transaction (the outbox)


async def create(session: AsyncSession, principal: Principal, data: ApplicationIn) -> Application:
    require_level(principal, "accept")
    household = await households.get_visible(session, principal, data.household_id)
    return await accept(session, principal, household, data)


async def accept(
    session: AsyncSession, principal: Principal, household: Household, data: ApplicationIn, *, online: bool = False
) -> Application:
    """受理: open an application of `household`, once the caller may (staff of its area at the counter, or the
    resident who declared it, `online`, from the mini-program). One open application per household and programme:
    a 409 naming it, and the partial unique index `uq_applications_open` under concurrent requests."""
    if data.programme in HOUSEHOLD_PROGRAMMES:
        if data.member_id is not None:
            raise InvalidInput(
                "member_id", "{programme} is granted to the household: give no member", programme=data.programme
            )
    else:
        if data.member_id is None:
            raise InvalidInput(
                "member_id", "{programme} is granted to one person: name the member", programme=data.programme
            )
        if (
            await session.scalar(
                select(Member.id).where(Member.id == data.member_id, Member.household_id == household.id)
            )
            is None
        ):
            raise InvalidInput(
                "member_id",
                "no member {member_id} in household {household_id}",
                member_id=data.member_id,
                household_id=household.id,
            )
    open_one = await session.scalar(
        select(Application).where(
            Application.household_id == household.id,
            Application.programme == data.programme,
            Application.state.in_(("accepted", "investigated", "reviewed", "publicised")),
        )
    )
    if open_one is not None:
        raise Conflict(
            "household {household_id} already has an open {programme} application",
            resource=resource_of(open_one),
            household_id=household.id,
            programme=data.programme,
        )
    now = utcnow()
    application = Application(
        household_id=household.id,
        member_id=data.member_id,
        area_code=household.area_code,
        programme=data.programme,
        state="accepted",
        income_irregular=False,
        created_by=principal.subject,
        submitted_by=principal.subject if online else None,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    await session.flush()
    audit(
        session,
        application.id,
        "accept",
        principal,
        programme=data.programme,
        channel="online" if online else "counter",
    )
    await session.flush()
    count_after_commit(session, "assistance", "application_submitted")
    return application


async def investigate(
    session: AsyncSession, principal: Principal, application_id: int, data: InvestigationIn
) -> Application:
    application = await get_visible(session, principal, application_id)
    require_level(principal, "investigate")
    if data.visited_on > clock.today():
        raise InvalidInput("visited_on", "the visit cannot be in the future")
    await _advance(
        session, application, "accepted", "investigated", "investigate", income_irregular=data.income_irregular
    )
    audit(
        session,
        application.id,
        "investigate",
        principal,
        visited_on=data.visited_on.isoformat(),
        findings=data.findings,
        income_irregular=data.income_irregular,
    )
    return application


async def preliminary_review(
    session: AsyncSession, principal: Principal, application_id: int, data: PreliminaryReviewIn
) -> Application:
    application = await get_visible(session, principal, application_id)
    require_level(principal, "preliminary_review")
    if data.passed:
        await _advance(session, application, "investigated", "reviewed", "preliminary_review")
    else:
        await _advance(session, application, "investigated", "rejected", "preliminary_review", reasons=data.reasons)
    audit(session, application.id, "preliminary_review", principal, passed=data.passed, reasons=data.reasons)
    return application


async def public_notice(
    session: AsyncSession, principal: Principal, application_id: int, data: PublicNoticeIn
) -> Application:
    application = await get_visible(session, principal, application_id)
    require_level(principal, "public_notice")
    today = clock.today()
    starts = data.starts_on or today
    if starts < today:
        raise InvalidInput("starts_on", "a public notice cannot start in the past")
    if starts > today + dt.timedelta(days=NOTICE_LEAD_DAYS):
        raise InvalidInput(
            "starts_on",
            "a public notice starts within {notice_lead_days} days of today",
            notice_lead_days=NOTICE_LEAD_DAYS,
        )
    ends = starts + dt.timedelta(days=NOTICE_DAYS)
    await _advance(
        session, application, "reviewed", "publicised", "public_notice", notice_starts_on=starts, notice_ends_on=ends
    )
    audit(session, application.id, "public_notice", principal, starts_on=starts.isoformat(), ends_on=ends.isoformat())
    return application


async def object_to(session: AsyncSession, principal: Principal, application_id: int, data: ObjectionIn) -> Application:
    """An objection raised during the notice, recorded by any staff member covering the household."""
    application = await get_visible(session, principal, application_id)
    today = clock.today()
    if application.state != "publicised" or not application.notice_starts_on <= today < application.notice_ends_on:
        raise Conflict(
            "application {application_id} is not in its public notice period",
            resource=resource_of(application),
            application_id=application.id,
        )
    audit(session, application.id, "objection", principal, text=data.text)
    await session.flush()
    return application


def review_interval(members: list[Member], income_irregular: bool, today: dt.date) -> int:
    """Yearly when income is stable; every 6 months when a counted member can work or income is irregular."""
    can_work = any(
        m.labour_capacity != "none"
        and 18 <= age_on(m.birth_on, today) < 60
        and membership(households.facts_of(m), today)[0]
        for m in members
    )
    return UNSTABLE_REVIEW_MONTHS if can_work or income_irregular else STABLE_REVIEW_MONTHS


def _monthly(amount: int, unit: str) -> int:
    return -(-amount // 12) if unit == "fen_per_year" else amount


async def decide(session: AsyncSession, principal: Principal, application_id: int, data: DecisionIn) -> Application:
    application = await get_visible(session, principal, application_id)
    require_level(principal, "decide")
    today = clock.today()
    if application.state == "publicised" and today < application.notice_ends_on:
        raise Conflict(
            "the public notice runs until {notice_ends_on}; decide after it",
            resource=resource_of(application),
            notice_ends_on=application.notice_ends_on.isoformat(),
        )
    objections = len([e for e in await events_of(session, application.id) if e.step == "objection"])
    if not data.approve:
        await _advance(session, application, "publicised", "rejected", "decide", reasons=data.reasons)
        audit(session, application.id, "decide", principal, approve=False, reasons=data.reasons, objections=objections)
        count_after_commit(session, "assistance", "application_decided", "rejected")
        return application
    check = await eligibility.check(
        session,
        principal,
        EligibilityCheckIn(household_id=application.household_id, as_of=today, programmes=[application.programme]),
    )
    [result] = check.programmes
    if application.programme in HOUSEHOLD_PROGRAMMES:
        eligible, failed = result.eligible, [c.code for c in result.criteria if not c.passed]
    else:
        person = next((p for p in result.persons or [] if p.member == str(application.member_id)), None)
        eligible = person is not None and person.eligible
        failed = [c.code for c in person.criteria if not c.passed] if person else ["member_not_assessed"]
    if not eligible:
        raise Conflict(
            "the rules in force on {today} find the application not eligible (failed: {failed}); reject it with "
            "reasons or correct the assessment",
            resource=resource_of(application),
            today=today.isoformat(),
            failed=", ".join(failed),
        )
    grant = (
        result.amount_fen
        if application.programme == "dibao"
        else (0 if application.programme == "dibao_marginal" else _monthly(result.amount_fen, result.amount_unit))
    )
    members = await households.members_of(session, application.household_id)
    interval = review_interval(members, application.income_irregular, today)
    await _advance(
        session,
        application,
        "publicised",
        "approved",
        "decide",
        reasons=data.reasons,
        monthly_grant_fen=grant,
        review_interval_months=interval,
        review_due_on=add_months(today, interval),
        evaluation=check.model_dump(mode="json"),
    )
    if application.programme in HOUSEHOLD_PROGRAMMES:
        enrolled = [m for m in members if membership(households.facts_of(m), today)[0]]
    else:
        enrolled = [m for m in members if m.id == application.member_id]
    current = await programmes.current_of(session, [m.id_number for m in enrolled], today)
    for m in enrolled:
        if application.programme in current[m.id_number]:
            raise Conflict(
                "a member already receives {programme}",
                resource=f"households/{application.household_id}",
                programme=application.programme,
            )
        # The household's grant is carried by the applicant's enrolment, so sums over enrolments count it once.
        carries = m.relationship == "applicant" or application.programme not in HOUSEHOLD_PROGRAMMES
        await programmes.enrol(
            session,
            id_number=m.id_number,
            household_id=application.household_id,
            programme=application.programme,
            since_on=today,
            monthly_fen=grant if carries else 0,
            basis=resource_of(application),
        )
    audit(
        session,
        application.id,
        "decide",
        principal,
        approve=True,
        reasons=data.reasons,
        objections=objections,
        monthly_grant_fen=grant,
        review_due_on=application.review_due_on.isoformat(),
    )
    await session.flush()
    count_after_commit(session, "assistance", "application_decided", "approved")
    return application


async def list_visible(
    session: AsyncSession, principal: Principal, page: PageParams, *, area_code: str | None, state: str | None
) -> list[Application]:
    if not principal.is_area_staff:
        return []
    query = keyset(select(Application).where(within_area(Application.area_code, principal.area)), Application.id, page)
    if area_code:
        query = query.where(within_area(Application.area_code, area_code))
    if state:
        query = query.where(Application.state == state)
    return list(await session.scalars(query))


async def reviews_due(
    session: AsyncSession, principal: Principal, page: PageParams, *, area_code: str | None, due_by: dt.date
) -> list[ReviewDueOut]:
    """Approved applications whose periodic review (定期复核) falls on or before `due_by`, soonest first."""
    if not principal.is_area_staff:
        return []
    query = keyset(
        select(Application).where(
            Application.state == "approved",
            Application.review_due_on <= due_by,
            within_area(Application.area_code, principal.area),
        ),
        (Application.review_due_on, Application.id),
        page,
        cast=(dt.date.fromisoformat, int),
    )
    if area_code:
        query = query.where(within_area(Application.area_code, area_code))
    today = clock.today()
    return [
        ReviewDueOut(
            application_id=a.id,
            household_id=a.household_id,
            area_code=a.area_code,
            programme=a.programme,
            review_due_on=a.review_due_on,
            review_interval_months=a.review_interval_months,
            overdue=a.review_due_on < today,
        )
        for a in await session.scalars(query)
    ]


async def remind_reviews_due(session: AsyncSession, principal: Principal, *, due_by: dt.date) -> int:
    """Record that the periodic review of each approved application of the principal's area fell due by `due_by`,
    once per application and due date (a later run adds only the new ones): what a notification outbox sends.
    Returns how many were recorded."""
    reminded = exists().where(
        ReviewReminder.application_id == Application.id, ReviewReminder.due_on == Application.review_due_on
    )
    now = literal(utcnow(), ReviewReminder.reminded_at.type)
    due = select(Application.id, Application.review_due_on, now).where(
        Application.state == "approved",
        Application.review_due_on <= due_by,
        within_area(Application.area_code, principal.area),
        ~reminded,
    )
    added = await session.execute(
        insert(ReviewReminder)
        .from_select(["application_id", "due_on", "reminded_at"], due)
        .returning(ReviewReminder.application_id, ReviewReminder.due_on)
    )
    recorded = added.all()
    # Each reminder recorded is a notice to the staff member who accepted the application.
    applications = {
        a.id: a
        for a in await session.scalars(
            select(Application).where(Application.id.in_([r.application_id for r in recorded]))
        )
    }
    for reminder in recorded:
        await notices.review_due(session, applications[reminder.application_id], reminder.due_on)
    return len(recorded)
