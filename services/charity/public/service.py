"""What anyone may read without signing in: projects' money and disclosures, and the honour list.

Nothing here carries a donor's personal data: donations appear as counts and sums; beneficiaries are
never named; the honour list shows only donors who opted in, by the name they gave (爱心人士 if anonymous),
with money and non-cash gifts (at their stated value) alike.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, String, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations import service as donations
from services.charity.donations.models import Disbursement, Donation, Refund
from services.charity.donations.schemas import ANONYMOUS_NAME
from services.charity.inkind.models import InKindDonation
from services.charity.ledger import service as ledger
from services.charity.organizations.models import Organization
from services.charity.projects import service as projects
from services.charity.projects.models import BudgetLine, Project
from services.charity.public.schemas import (
    HonourEntry,
    HonourList,
    PublicLine,
    PublicPayment,
    PublicProject,
    PublicProjectSummary,
)
from shared import clock
from shared.areas import within_area
from shared.errors import InvalidInput, NotFound
from shared.pagination import PageParams, keyset

PUBLIC_STATUSES = ("filed", "fundraising", "executing", "closed")  # a draft is not public yet
BENEFICIARY = "受益人"


def _public_projects() -> Select:
    return (
        select(Project, Organization.name)
        .join(Organization, Organization.id == Project.organization_id)
        .where(Project.status.in_(PUBLIC_STATUSES))
    )


async def _donation_counts(session: AsyncSession, project_ids: list[int]) -> dict[int, int]:
    """Each project's donations, less those refunded in full."""
    if not project_ids:
        return {}
    rows = await session.execute(
        select(Donation.project_id, func.count())
        .where(Donation.project_id.in_(project_ids), donations.still_given())
        .group_by(Donation.project_id)
    )
    found = dict(rows.all())
    return {pid: int(found.get(pid, 0)) for pid in project_ids}


def _summary_fields(project: Project, org_name: str, totals: ledger.Totals, count: int) -> dict:
    return dict(
        id=project.id,
        title=project.title,
        organization_id=project.organization_id,
        organization_name=org_name,
        district_code=project.district_code,
        status=project.status,
        public_fundraising=project.public_fundraising,
        emergency=project.emergency,
        starts_on=project.starts_on,
        ends_on=project.ends_on,
        target_fen=project.target_fen,
        raised_fen=totals.raised_fen,
        spent_fen=totals.spent_fen,
        balance_fen=totals.balance_fen,
        donation_count=count,
    )


async def list_projects(
    session: AsyncSession, page: PageParams, *, status: str | None, district: str | None, organization_id: int | None
) -> list[PublicProjectSummary]:
    query = keyset(_public_projects(), Project.id, page)
    if status:
        query = query.where(Project.status == status)
    if district:
        query = query.where(within_area(Project.district_code, district))
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    rows = (await session.execute(query)).all()
    ids = [p.id for p, _ in rows]
    totals, counts = await ledger.project_totals(session, ids), await _donation_counts(session, ids)
    return [PublicProjectSummary(**_summary_fields(p, name, totals[p.id], counts[p.id])) for p, name in rows]


async def project(session: AsyncSession, project_id: int) -> PublicProject:
    row = (await session.execute(_public_projects().where(Project.id == project_id))).first()
    if row is None:
        raise NotFound("no public project {project_id}", project_id=project_id)
    found, org_name = row
    totals = (await ledger.project_totals(session, [found.id]))[found.id]
    spent = await ledger.spent_by_line(session, found.id)
    lines = list(
        await session.scalars(select(BudgetLine).where(BudgetLine.project_id == found.id).order_by(BudgetLine.line_no))
    )
    line_no = {line.id: line.line_no for line in lines}
    payments = [
        PublicPayment(
            paid_on=d.paid_on,
            budget_line_no=line_no[d.budget_line_id],
            payee=d.payee_name if d.payee_kind == "supplier" else BENEFICIARY,
            purpose=d.purpose,
            amount_fen=d.amount_fen,
        )
        for d in await session.scalars(
            select(Disbursement).where(Disbursement.project_id == found.id).order_by(Disbursement.id)
        )
    ]
    return PublicProject(
        **_summary_fields(found, org_name, totals, (await _donation_counts(session, [found.id]))[found.id]),
        summary=found.summary,
        beneficiaries=found.beneficiaries,
        filed_on=found.filed_on,
        filing_number=found.filing_number,
        refunded_fen=totals.refunded_fen,
        budget_lines=[
            PublicLine(line_no=b.line_no, name=b.name, budget_fen=b.amount_fen, spent_fen=spent.get(b.id, 0))
            for b in lines
        ],
        payments=payments,
        disclosures=await projects.disclosures_out(session, found.id),
    )


# ---- honour list (慈善榜) ----


def _gifts(start: dt.datetime, end: dt.datetime, period_from: dt.date, period_to: dt.date):
    """Every gift of the period whose donor agreed to be listed: money (less its refunds) and non-cash gifts at
    their stated value (valuation_fen), one row each with what the list reads of its donor."""
    refunded = (
        select(Refund.donation_id, func.sum(Refund.amount_fen).label("refunded"))
        .group_by(Refund.donation_id)
        .subquery()
    )
    money = (
        select(
            literal("d").label("source"),
            Donation.id,
            Donation.donor_kind,
            Donation.donor_name,
            Donation.donor_phone_index.label("phone_index"),
            Donation.donor_credit_code,
            (Donation.amount_fen - func.coalesce(refunded.c.refunded, 0)).label("net"),
        )
        .outerjoin(refunded, refunded.c.donation_id == Donation.id)
        .where(Donation.honour_opt_in.is_(True), Donation.donated_at >= start, Donation.donated_at < end)
    )
    in_kind = select(
        literal("k").label("source"),
        InKindDonation.id,
        InKindDonation.donor_kind,
        InKindDonation.donor_name,
        cast(literal(None), String).label("phone_index"),
        InKindDonation.donor_credit_code,
        InKindDonation.valuation_fen.label("net"),
    ).where(
        InKindDonation.honour_opt_in.is_(True),
        InKindDonation.received_on >= period_from,
        InKindDonation.received_on <= period_to,
    )
    return union_all(money, in_kind).subquery()


def _category(gift):
    """A company donor's credit code says who registered it: 9 is an enterprise (工商); others (5 civil affairs,
    1 government bodies and institutions…) are organisations."""
    return case(
        (gift.c.donor_kind == "anonymous", literal("anonymous")),
        (gift.c.donor_kind == "person", literal("person")),
        (func.substr(gift.c.donor_credit_code, 1, 1) == "9", literal("company")),
        else_=literal("organization"),
    )


async def honour_list(
    session: AsyncSession, *, period_from: dt.date | None, period_to: dt.date | None, category: str | None, limit: int
) -> HonourList:
    today = clock.today()
    period_from = period_from or today.replace(month=1, day=1)
    period_to = period_to or today
    if period_to < period_from:
        raise InvalidInput("period_to", "must be on or after period_from", location="query")
    start = dt.datetime.combine(period_from, dt.time(), tzinfo=clock.SHANGHAI)
    end = dt.datetime.combine(period_to + dt.timedelta(days=1), dt.time(), tzinfo=clock.SHANGHAI)
    gift = _gifts(start, end, period_from, period_to)
    category_ = _category(gift)
    # One entry per donor: people by name and phone (its blind index: the phone itself is stored encrypted; a
    # non-cash gift has none), companies and organisations by credit code, whatever they gave; each anonymous
    # gift stands alone (nothing ties two of them to one person).
    donor_key = case(
        (gift.c.donor_kind == "anonymous", gift.c.source + ":" + cast(gift.c.id, String)),
        (
            gift.c.donor_kind == "person",
            literal("p:") + gift.c.donor_name + ":" + func.coalesce(gift.c.phone_index, ""),
        ),
        else_=literal("c:") + gift.c.donor_credit_code,
    )
    query = (
        select(
            donor_key.label("donor"),
            func.min(category_).label("category"),
            func.max(func.coalesce(gift.c.donor_name, ANONYMOUS_NAME)).label("name"),
            func.sum(gift.c.net).label("amount"),
            func.sum(case((gift.c.net > 0, 1), else_=0)).label("n"),  # a gift refunded in full is not counted
        )
        .group_by(donor_key)
        .having(func.sum(gift.c.net) > 0)
        .order_by(func.sum(gift.c.net).desc(), func.min(gift.c.id), donor_key)
        .limit(limit)
    )
    if category:
        query = query.where(category_ == category)
    rows = (await session.execute(query)).all()
    entries = [
        HonourEntry(
            rank=n,
            name=row.name if row.category != "anonymous" else ANONYMOUS_NAME,
            category=row.category,
            amount_fen=int(row.amount),
            donations=int(row.n),
        )
        for n, row in enumerate(rows, start=1)
    ]
    return HonourList(period_from=period_from, period_to=period_to, category=category, entries=entries)
