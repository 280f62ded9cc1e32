"""Indicators of the plan, computed from the records and the ledger at request time (nothing cached)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations.models import Donation
from services.charity.campaigns import service as campaigns
from services.charity.campaigns.models import Campaign
from services.charity.indicators.schemas import (CampaignIndicator, Indicators, MoneyIndicators,
                                                 OrganizationIndicators, Target, TrustIndicators)
from services.charity.trusts import service as trusts
from services.charity.trusts.models import Trust
from services.charity.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup
from services.charity.organizations.models import Organization
from services.charity.projects.models import Project
from shared import clock
from shared.areas import within_area

REGISTERED_TARGET = 100  # more than 100 organisations
NEW_PER_YEAR_TARGET = 11


def _in_district(column, district: str | None):
    return within_area(column, district or "")


async def money(session: AsyncSession, district: str | None, since: dt.datetime | None) -> MoneyIndicators:
    amount = LedgerEntry.amount_fen
    query = (select(func.coalesce(func.sum(case((LedgerGroup.kind == "donation", amount), else_=0)), 0),
                    func.coalesce(func.sum(case((LedgerGroup.kind == "refund", -amount), else_=0)), 0),
                    func.coalesce(func.sum(case((LedgerGroup.kind == "disbursement", -amount), else_=0)), 0))
             .select_from(LedgerEntry)
             .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
             .join(LedgerGroup, LedgerGroup.id == LedgerEntry.group_id)
             .join(Project, Project.id == LedgerGroup.project_id)
             .where(LedgerAccount.kind == "project", _in_district(Project.district_code, district)))
    count = (select(func.count()).select_from(Donation).join(Project, Project.id == Donation.project_id)
             .where(_in_district(Project.district_code, district)))
    if since is not None:
        query = query.where(LedgerGroup.created_at >= since)
        count = count.where(Donation.created_at >= since)
    donated, refunded, spent = (await session.execute(query)).one()
    return MoneyIndicators(donations=int(await session.scalar(count)), donated_fen=int(donated),
                           refunded_fen=int(refunded), raised_fen=int(donated) - int(refunded), spent_fen=int(spent))


async def indicators(session: AsyncSession, district: str | None) -> Indicators:
    today = clock.today()
    year_start = today.replace(month=1, day=1)
    in_district = _in_district(Organization.district_code, district)
    registered, new, charities, qualified = (await session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((Organization.registered_on >= year_start, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Organization.is_charity.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(case((Organization.fundraising_qualified_on.is_not(None), 1), else_=0)), 0),
    ).where(in_district))).one()
    statuses = dict((await session.execute(select(Project.status, func.count())
                                           .where(_in_district(Project.district_code, district))
                                           .group_by(Project.status))).all())
    since = dt.datetime.combine(year_start, dt.time(), tzinfo=clock.SHANGHAI)
    by_district = dict((await session.execute(select(Trust.district_code, func.count())
                                              .where(_in_district(Trust.district_code, district))
                                              .group_by(Trust.district_code))).all())
    scale = await session.scalar(select(func.coalesce(func.sum(Trust.scale_fen), 0))
                                 .where(_in_district(Trust.district_code, district)))
    coverage = await trusts.coverage(session, area=district)
    recent = await session.scalars(select(Campaign).where(Campaign.starts_on >= year_start.replace(year=today.year - 1),
                                                          _in_district(Campaign.area_code, district))
                                   .order_by(Campaign.id))
    campaign_lines = []
    for campaign in recent:
        stats = await campaigns.participation(session, None, campaign.id)
        campaign_lines.append(CampaignIndicator(campaign_id=campaign.id, name=campaign.name, participation=Target(
            value=stats.rate_pct, target=stats.target_pct, met=stats.met)))
    return Indicators(
        as_of=today, district=district,
        organizations=OrganizationIndicators(
            registered=Target(value=registered, target=REGISTERED_TARGET, met=registered > REGISTERED_TARGET),
            new_this_year=Target(value=int(new), target=NEW_PER_YEAR_TARGET, met=int(new) >= NEW_PER_YEAR_TARGET),
            charities=int(charities), fundraising_qualified=int(qualified)),
        projects_by_status={s: int(statuses.get(s, 0)) for s in ("draft", "filed", "fundraising", "executing",
                                                                 "closed")},
        money_this_year=await money(session, district, since),
        money_all_time=await money(session, district, None),
        trusts=TrustIndicators(trusts=sum(by_district.values()), scale_fen=int(scale),
                               by_district={d: int(n) for d, n in sorted(by_district.items())}),
        community_fund_coverage=Target(value=coverage.coverage_pct or 0.0, target=coverage.target_pct,
                                       met=coverage.met),
        campaigns=campaign_lines,
    )
