"""Indicators of the plan, computed from the records and the ledger at request time (nothing cached)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.campaigns import service as campaigns
from services.charity.campaigns.models import Campaign
from services.charity.donations import service as donations
from services.charity.donations.models import Donation
from services.charity.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup, Reconciliation
from services.charity.organizations.models import Organization
from services.charity.projects.models import Project
from services.charity.trusts import service as trusts
from services.charity.trusts.models import Trust
from shared import clock
from shared.areas import CITY_CODE, within_area
from shared.indicators import Figures, Indicators, target

REGISTERED_TARGET = 100  # more than 100 organisations
NEW_PER_YEAR_TARGET = 11
PROJECT_STATUSES = ("draft", "filed", "fundraising", "executing", "closed")


def _in_district(column, district: str | None):
    return within_area(column, district or "")


async def money(session: AsyncSession, figures: Figures, district: str | None, since: dt.datetime | None) -> None:
    """Donations and the money donated, refunded, raised (donated less refunded) and spent, from the ledger."""
    amount = LedgerEntry.amount_fen
    query = (
        select(
            func.coalesce(func.sum(case((LedgerGroup.kind == "donation", amount), else_=0)), 0),
            func.coalesce(func.sum(case((LedgerGroup.kind == "refund", -amount), else_=0)), 0),
            func.coalesce(func.sum(case((LedgerGroup.kind == "disbursement", -amount), else_=0)), 0),
        )
        .select_from(LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerGroup, LedgerGroup.id == LedgerEntry.group_id)
        .join(Project, Project.id == LedgerGroup.project_id)
        .where(LedgerAccount.kind == "project", _in_district(Project.district_code, district))
    )
    count = (
        select(func.count())
        .select_from(Donation)
        .join(Project, Project.id == Donation.project_id)
        .where(_in_district(Project.district_code, district), donations.still_given())
    )
    if since is not None:
        query = query.where(LedgerGroup.created_at >= since)
        count = count.where(Donation.created_at >= since)
    donated, refunded, spent = (await session.execute(query)).one()
    period = "all_time" if since is None else "this_year"
    figures.add(
        "donations", int(await session.scalar(count)), "count", period=period, note="less those refunded in full"
    )
    figures.add("donated", int(donated), "fen", period=period)
    figures.add("refunded", int(refunded), "fen", period=period)
    figures.add("raised", int(donated) - int(refunded), "fen", period=period, note="donated less refunded")
    figures.add("spent", int(spent), "fen", period=period)


async def indicators(session: AsyncSession, district: str | None) -> Indicators:
    today = clock.today()
    year_start = today.replace(month=1, day=1)
    figures = Figures(district or CITY_CODE, today)
    in_district = _in_district(Organization.district_code, district)
    registered, new, charities, qualified = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Organization.registered_on >= year_start, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Organization.is_charity.is_(True), 1), else_=0)), 0),
                func.coalesce(func.sum(case((Organization.fundraising_qualified_on.is_not(None), 1), else_=0)), 0),
            ).where(in_district)
        )
    ).one()
    figures.add(
        "organizations_registered",
        int(registered),
        "count",
        note="registered social organisations",
        target=target(
            REGISTERED_TARGET,
            int(registered),
            rule="more_than",
            scope="city",
            note="more than 100 social organisations",
        ),
    )
    figures.add(
        "organizations_new_this_year",
        int(new),
        "count",
        target=target(NEW_PER_YEAR_TARGET, int(new), scope="city", note="11 registered in the year"),
    )
    figures.add("charities", int(charities), "count", note="recognised as charities (慈善组织)")
    figures.add("fundraising_qualified", int(qualified), "count", note="holding the public-fundraising qualification")
    statuses = dict(
        (
            await session.execute(
                select(Project.status, func.count())
                .where(_in_district(Project.district_code, district))
                .group_by(Project.status)
            )
        ).all()
    )
    for status in PROJECT_STATUSES:
        figures.add("projects", int(statuses.get(status, 0)), "count", status=status)
    since = dt.datetime.combine(year_start, dt.time(), tzinfo=clock.SHANGHAI)
    await money(session, figures, district, since)
    await money(session, figures, district, None)
    by_district = dict(
        (
            await session.execute(
                select(Trust.district_code, func.count())
                .where(_in_district(Trust.district_code, district))
                .group_by(Trust.district_code)
            )
        ).all()
    )
    scale = await session.scalar(
        select(func.coalesce(func.sum(Trust.scale_fen), 0)).where(_in_district(Trust.district_code, district))
    )
    figures.add("trusts", sum(int(n) for n in by_district.values()), "count", note="filed charity trusts (慈善信托)")
    figures.add("trust_scale", int(scale), "fen")
    for code, n in sorted(by_district.items()):
        if code != figures.area:  # one district asked: its own count is the whole, given above
            figures.add("trusts", int(n), "count", area=code)
    coverage = await trusts.coverage(session, area=district)
    coverage_pct = coverage.coverage_pct or 0.0
    figures.add(
        "community_fund_coverage",
        coverage_pct,
        "percent",
        note="communities with a fund, over the districts whose number of communities is stated",
        target=target(
            coverage.target_pct,
            coverage_pct,
            scope="area",
            met=coverage.met,
            note="90% of communities with a community charity fund (社区慈善基金)",
        ),
    )
    recent = await session.scalars(
        select(Campaign)
        .where(
            Campaign.starts_on >= year_start.replace(year=today.year - 1), _in_district(Campaign.area_code, district)
        )
        .order_by(Campaign.id)
    )
    # Campaigns of this year and last, oldest first: the participation of their units (慈善一日捐).
    for campaign in recent:
        stats = await campaigns.participation(session, None, campaign.id)
        figures.add(
            "campaign_participation",
            stats.rate_pct,
            "percent",
            campaign_id=campaign.id,
            campaign_name=campaign.name,
            note="units' participation in the one-day donation campaign",
            target=target(
                stats.target_pct, stats.rate_pct, scope="area", met=stats.met, note="95% of government units take part"
            ),
        )
    await reconciliation(session, figures)
    return figures.answer()


async def reconciliation(session: AsyncSession, figures: Figures) -> None:
    """The differences the latest reconciliation (对账) of this very area found: an alert while there are any.
    The nightly run covers the whole city, so the city's figure is the nightly one; a district's is its own run."""
    run = await session.scalar(
        select(Reconciliation)
        .where(Reconciliation.area_code == figures.area)
        .order_by(Reconciliation.id.desc())
        .limit(1)
    )
    if run is None:
        return
    found = len(run.differences)
    figures.add(
        "ledger_differences",
        found,
        "count",
        alert=found > 0,
        as_of=run.finished_at.astimezone(clock.SHANGHAI).date(),
        note=f"differences found by reconciliation run {run.id}, the latest of this area",
    )
