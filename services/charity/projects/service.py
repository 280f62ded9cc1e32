"""Rules of charity projects: the lifecycle, the filing clock, and the disclosure duty."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.access import visible_or_404
from services.charity.ledger import service as ledger
from services.charity.organizations import service as organizations
from services.charity.projects.models import BudgetLine, Disclosure, Project, ProjectSite
from services.charity.projects.schemas import (
    BudgetLineOut,
    DisclosureIn,
    DisclosureOut,
    FilingIn,
    OverdueDisclosure,
    ProjectIn,
    ProjectOut,
    SiteIn,
    SiteOut,
)
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import within_area
from shared.db import get_or_404, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset

FILING_LEAD_DAYS = 10  # 慈善法 art. 24: a public fundraising plan is filed 10 days before it starts
EMERGENCY_FILING_DAYS = 10  # 慈善法 art. 24/71: an emergency fundraising files within 10 days after it starts
LONG_PROJECT_MONTHS = 6  # 慈善法 art. 76: projects longer than 6 months disclose at least every 3 months
DISCLOSURE_INTERVAL_MONTHS = 3
FINAL_DISCLOSURE_MONTHS = 3  # and everything within 3 months after the end
# Assumption (no source bounds it): the sites one project may list, a ceiling against a runaway client, not a rule.
MAX_SITES = 1000

# The lifecycle: each action moves a project from one status to the next, and nowhere else.
TRANSITIONS = {"filed": "draft", "fundraising": "filed", "executing": "fundraising", "closed": "executing"}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def resource(project_id: int) -> str:
    return f"projects/{project_id}"


async def _lines(session: AsyncSession, project_id: int) -> list[BudgetLine]:
    return list(
        await session.scalars(
            select(BudgetLine).where(BudgetLine.project_id == project_id).order_by(BudgetLine.line_no)
        )
    )


async def to_out(session: AsyncSession, project: Project) -> ProjectOut:
    """Computed: the totals and each budget line's spending, summed from the ledger."""
    totals = (await ledger.project_totals(session, [project.id]))[project.id]
    spent = await ledger.spent_by_line(session, project.id)
    lines = [
        BudgetLineOut(
            id=line.id,
            line_no=line.line_no,
            name=line.name,
            amount_fen=line.amount_fen,
            spent_fen=spent.get(line.id, 0),
        )
        for line in await _lines(session, project.id)
    ]
    return ProjectOut(
        id=project.id,
        organization_id=project.organization_id,
        district_code=project.district_code,
        title=project.title,
        summary=project.summary,
        beneficiaries=project.beneficiaries,
        beneficiary_count=project.beneficiary_count,
        public_fundraising=project.public_fundraising,
        emergency=project.emergency,
        status=project.status,
        target_fen=project.target_fen,
        starts_on=project.starts_on,
        ends_on=project.ends_on,
        filed_on=project.filed_on,
        filing_number=project.filing_number,
        raised_fen=totals.raised_fen,
        refunded_fen=totals.refunded_fen,
        spent_fen=totals.spent_fen,
        balance_fen=totals.balance_fen,
        budget_lines=lines,
        created_at=project.created_at,
        status_changed_at=project.status_changed_at,
    )


def _qualified_on(org, day: dt.date) -> bool:
    return org.fundraising_qualified_on is not None and org.fundraising_qualified_on <= day


async def create(
    session: AsyncSession, principal: Principal, data: ProjectIn, *, created_at: dt.datetime | None = None
) -> Project:
    """A draft project. `created_at`, never from a request: when the record is older than this database (the
    seed's demo history), since a plan is filed on or after the day its project was created."""
    try:
        org = await organizations.get(session, data.organization_id)
    except NotFound:
        raise InvalidInput("organization_id", "no such organisation") from None
    visible_or_404(principal, org.district_code, "no organisation {id} that you may see", id=org.id)
    if data.ends_on < data.starts_on:
        raise InvalidInput("ends_on", "must be on or after starts_on")
    if data.emergency and not data.public_fundraising:
        raise InvalidInput("emergency", "only a public fundraising can be an emergency fundraising")
    if sum(line.amount_fen for line in data.budget_lines) != data.target_fen:
        raise InvalidInput(
            "budget_lines",
            "the lines add up to {total_fen} fen, not the target {target_fen}",
            total_fen=sum(b.amount_fen for b in data.budget_lines),
            target_fen=data.target_fen,
        )
    if data.public_fundraising and not _qualified_on(org, clock.today()):
        raise Conflict(
            "only an organisation holding the public-fundraising qualification (公开募捐资格) may run a "
            "public fundraising",
            resource=f"organizations/{org.id}",
        )
    now = created_at or utcnow()
    project = Project(
        **data.model_dump(exclude={"budget_lines"}),
        district_code=org.district_code,
        status="draft",
        created_by=principal.subject,
        created_at=now,
        status_changed_at=now,
    )
    session.add(project)
    await session.flush()
    session.add_all(
        BudgetLine(project_id=project.id, line_no=n, name=line.name, amount_fen=line.amount_fen)
        for n, line in enumerate(data.budget_lines, start=1)
    )
    await ledger.open_accounts(session, org, project)
    await session.flush()
    return project


async def get(session: AsyncSession, project_id: int) -> Project:
    project = await get_or_404(session, Project, project_id, "no project {project_id}", project_id=project_id)
    return project


async def lock_status(session: AsyncSession, project_id: int) -> Project:
    """The project re-read under a shared row lock (FOR SHARE on PostgreSQL): money that moves on the strength
    of its status commits before any status change, which must wait for the lock. Movements do not wait
    for each other: shared locks are compatible."""
    return (
        await session.execute(
            select(Project)
            .where(Project.id == project_id)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def get_visible(session: AsyncSession, principal: Principal, project_id: int) -> Project:
    project = await get_or_404(
        session, Project, project_id, "no project {project_id} that you may see", project_id=project_id
    )
    visible_or_404(principal, project.district_code, "no project {id} that you may see", id=project_id)
    return project


async def list_visible(
    session: AsyncSession, principal: Principal, page: PageParams, *, status: str | None, organization_id: int | None
) -> list[Project]:
    if not principal.is_area_staff:
        return []
    query = keyset(select(Project).where(within_area(Project.district_code, principal.area)), Project.id, page)
    if status:
        query = query.where(Project.status == status)
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    return list(await session.scalars(query))


async def _move(session: AsyncSession, project: Project, to: str, **values) -> Project:
    """Conditional update from the one status that leads to `to`: of two concurrent moves, one wins."""
    origin = TRANSITIONS[to]
    if project.status != origin:
        raise Conflict(
            "the project is {project_status}; only a {origin} project can become {to}",
            resource=resource(project.id),
            project_status=project.status,
            origin=origin,
            to=to,
        )
    moved = await session.execute(
        update(Project)
        .where(Project.id == project.id, Project.status == origin)
        .values(status=to, status_changed_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(
            "the project changed meanwhile; it is no longer {origin}", resource=resource(project.id), origin=origin
        )
    await session.refresh(project)
    return project


async def file(session: AsyncSession, principal: Principal, project_id: int, data: FilingIn) -> Project:
    """Record the filing (备案). A public fundraising is filed at least 10 days before it starts, or, in an
    emergency, at most 10 days after; the organisation must hold the qualification on the filing date."""
    project = await get_visible(session, principal, project_id)
    today = clock.today()
    filed_on = data.filed_on or today
    if filed_on > today:
        raise InvalidInput("filed_on", "cannot be in the future")
    created_on = project.created_at.astimezone(clock.SHANGHAI).date()
    if filed_on < created_on:
        raise InvalidInput(
            "filed_on",
            "cannot be before the project was created ({created_on}): a plan is filed once it exists",
            created_on=created_on.isoformat(),
        )
    if project.public_fundraising:
        org = await organizations.get(session, project.organization_id)
        if not _qualified_on(org, filed_on):
            raise Conflict(
                "the organisation does not hold the public-fundraising qualification (公开募捐资格) on the filing date",
                resource=f"organizations/{org.id}",
            )
        if project.emergency:
            latest = project.starts_on + dt.timedelta(days=EMERGENCY_FILING_DAYS)
            if filed_on > latest:
                raise Conflict(
                    "an emergency fundraising must be filed within {EMERGENCY_FILING_DAYS} days after it starts ({starts_on}), by {latest}",
                    resource=resource(project.id),
                    EMERGENCY_FILING_DAYS=EMERGENCY_FILING_DAYS,
                    starts_on=project.starts_on.isoformat(),
                    latest=latest.isoformat(),
                )
        else:
            latest = project.starts_on - dt.timedelta(days=FILING_LEAD_DAYS)
            if filed_on > latest:
                raise Conflict(
                    "a public fundraising plan must be filed at least {FILING_LEAD_DAYS} days before it starts "
                    "({starts_on}): by {latest}; move the start date or, for a disaster or emergency, file it as an "
                    "emergency fundraising",
                    resource=resource(project.id),
                    FILING_LEAD_DAYS=FILING_LEAD_DAYS,
                    starts_on=project.starts_on.isoformat(),
                    latest=latest.isoformat(),
                )
    return await _move(session, project, "filed", filed_on=filed_on, filing_number=data.filing_number)


async def start_fundraising(session: AsyncSession, principal: Principal, project_id: int) -> Project:
    project = await get_visible(session, principal, project_id)
    today = clock.today()
    if not project.starts_on <= today <= project.ends_on:
        raise Conflict(
            "fundraising runs from {starts_on} to {ends_on}; today is outside that period",
            resource=resource(project.id),
            starts_on=project.starts_on.isoformat(),
            ends_on=project.ends_on.isoformat(),
        )
    return await _move(session, project, "fundraising")


async def start_execution(session: AsyncSession, principal: Principal, project_id: int) -> Project:
    return await _move(session, await get_visible(session, principal, project_id), "executing")


async def close(session: AsyncSession, principal: Principal, project_id: int) -> Project:
    return await _move(session, await get_visible(session, principal, project_id), "closed")


# ---- disclosures (信息公开): append-only ----


async def disclosures_out(session: AsyncSession, project_id: int) -> list[DisclosureOut]:
    """Computed: each disclosure's `corrected_by`, from the corrections that name it."""
    rows = list(
        await session.scalars(select(Disclosure).where(Disclosure.project_id == project_id).order_by(Disclosure.id))
    )
    corrected: dict[int, list[int]] = {}
    for row in rows:
        if row.corrects_id is not None:
            corrected.setdefault(row.corrects_id, []).append(row.id)
    return [
        DisclosureOut(
            id=r.id,
            project_id=r.project_id,
            kind=r.kind,
            title=r.title,
            content=r.content,
            period_from=r.period_from,
            period_to=r.period_to,
            corrects_id=r.corrects_id,
            corrected_by=corrected.get(r.id, []),
            published_on=r.published_on,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def disclose(session: AsyncSession, principal: Principal, project_id: int, data: DisclosureIn) -> Disclosure:
    project = await get_visible(session, principal, project_id)
    if project.status == "draft":
        raise Conflict("a draft project has nothing to disclose yet; file it first", resource=resource(project.id))
    if (data.kind == "correction") != (data.corrects_id is not None):
        raise InvalidInput("corrects_id", "a correction names the disclosure it corrects, and only a correction does")
    if data.corrects_id is not None:
        original = await session.get(Disclosure, data.corrects_id)
        if original is None or original.project_id != project.id:
            raise InvalidInput("corrects_id", "not a disclosure of this project")
    if data.period_from and data.period_to and data.period_to < data.period_from:
        raise InvalidInput("period_to", "must be on or after period_from")
    row = Disclosure(
        project_id=project.id,
        **data.model_dump(),
        published_on=clock.today(),
        published_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


def disclosure_due(
    project: Project, last_published_on: dt.date | None, final_published: bool, today: dt.date
) -> tuple[str, dt.date] | None:
    """The disclosure a started project owes and when it was due, if that date has passed."""
    if today > project.ends_on:
        due_on = add_months(project.ends_on, FINAL_DISCLOSURE_MONTHS)
        return ("final", due_on) if not final_published and today > due_on else None
    if project.ends_on > add_months(project.starts_on, LONG_PROJECT_MONTHS):
        due_on = add_months(max(last_published_on or project.starts_on, project.starts_on), DISCLOSURE_INTERVAL_MONTHS)
        return ("progress", due_on) if today > due_on else None
    return None


async def overdue(session: AsyncSession, principal: Principal) -> list[OverdueDisclosure]:
    """Started projects of the caller's area whose progress or final disclosure is overdue, oldest first."""
    if not principal.is_area_staff:
        return []
    today = clock.today()
    last = (
        select(Disclosure.project_id, func.max(Disclosure.published_on).label("last_on"))
        .group_by(Disclosure.project_id)
        .subquery()
    )
    finals = select(Disclosure.project_id).where(Disclosure.kind == "final").distinct().subquery()
    rows = await session.execute(
        select(Project, last.c.last_on, finals.c.project_id)
        .outerjoin(last, last.c.project_id == Project.id)
        .outerjoin(finals, finals.c.project_id == Project.id)
        .where(
            within_area(Project.district_code, principal.area),
            Project.status.in_(("fundraising", "executing", "closed")),
        )
        .order_by(Project.id)
    )
    found = []
    for project, last_on, final_id in rows:
        due = disclosure_due(project, last_on, final_id is not None, today)
        if due:
            found.append(
                OverdueDisclosure(
                    project_id=project.id,
                    organization_id=project.organization_id,
                    district_code=project.district_code,
                    title=project.title,
                    status=project.status,
                    due=due[0],
                    due_on=due[1],
                    days_overdue=(today - due[1]).days,
                    last_published_on=last_on,
                )
            )
    return sorted(found, key=lambda o: (o.due_on, o.project_id))


# --- sites ------------------------------------------------------------------------------------------------


def site_out(site: ProjectSite) -> SiteOut:
    return SiteOut(
        id=site.id, project_id=site.project_id, name=site.name, created_at=site.created_at, **address_out(site)
    )


async def _open_for_sites(
    session: AsyncSession, principal: Principal, project_id: int, *, lock: bool = True
) -> Project:
    """The project the caller may see, not closed; with `lock`, under a row lock: sites of one project change one at
    a time (the count and the name are checked race-free), and not while the project closes."""
    project = await get_visible(session, principal, project_id)
    if lock:
        query = select(Project).where(Project.id == project_id).with_for_update()
        project = (await session.execute(query.execution_options(populate_existing=True))).scalar_one()
    if project.status == "closed":
        raise Conflict("the project is closed: its sites no longer change", resource=resource(project_id))
    return project


async def add_site(
    session: AsyncSession, principal: Principal, project_id: int, data: SiteIn, address: AddressValues
) -> ProjectSite:
    """`address`: as `shared.addresses.standardise_input` found it (the caller's area checked). A 409 naming the
    site when the project has one of that name already."""
    await _open_for_sites(session, principal, project_id)
    rows = (
        await session.execute(select(ProjectSite.id, ProjectSite.name).where(ProjectSite.project_id == project_id))
    ).all()
    same = next((site_id for site_id, name in rows if name == data.name), None)
    if same is not None:
        raise Conflict(
            "the project already has a site named {name}",
            resource=f"{resource(project_id)}/sites/{same}",
            name=data.name,
        )
    if len(rows) >= MAX_SITES:
        raise Conflict(
            "the project has {count} sites, the most one project may list",
            resource=resource(project_id),
            count=len(rows),
        )
    site = ProjectSite(
        project_id=project_id, name=data.name, **address.values, added_by=principal.subject, created_at=utcnow()
    )
    session.add(site)
    await session.flush()
    return site


async def sites(session: AsyncSession, principal: Principal, project_id: int) -> list[ProjectSite]:
    await get_visible(session, principal, project_id)
    query = select(ProjectSite).where(ProjectSite.project_id == project_id).order_by(ProjectSite.id)
    return list(await session.scalars(query))


def site_of(
    session: AsyncSession, principal: Principal, project_id: int, site_id: int
) -> Callable[[bool], Awaitable[ProjectSite]]:
    """A `load` for `shared.addresses.give_address_again`: the site of a project the caller may see (404
    otherwise), the project not closed (409); with `for_update`, both under a row lock."""

    async def load(for_update: bool) -> ProjectSite:
        await _open_for_sites(session, principal, project_id, lock=for_update)
        query = select(ProjectSite).where(ProjectSite.id == site_id, ProjectSite.project_id == project_id)
        site = await session.scalar(query.with_for_update() if for_update else query)
        if site is None:
            raise NotFound("no site {site_id} of project {project_id}", site_id=site_id, project_id=project_id)
        return site

    return load


async def remove_site(session: AsyncSession, principal: Principal, project_id: int, site_id: int) -> None:
    site = await site_of(session, principal, project_id, site_id)(True)
    await session.delete(site)
    await session.flush()
