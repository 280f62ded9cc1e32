"""Charity trusts (filing, yearly reports and their due dates) and community funds (coverage per district)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from services.charity.organizations.models import Organization
from services.charity.trusts.models import CommunityCount, CommunityFund, Trust, TrustReport
from services.charity.trusts.schemas import (
    CommunityCountIn,
    CommunityFundIn,
    Coverage,
    DistrictCoverage,
    OverdueReport,
    TrustIn,
    TrustOut,
    TrustReportIn,
    TrustReportOut,
)
from shared import clock, divisions
from shared.areas import area_prefix, check_district, within_area
from shared.db import conflict_insert, get_or_404, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset

# A trustee reports each year's affairs and finances to the department it filed with (慈善信托管理办法
# art. 44). Ningbo asks for the report by 31 March of the following year; we use that date.
REPORT_DUE_MONTH, REPORT_DUE_DAY = 3, 31
COVERAGE_TARGET_PCT = 90


def report_due(year: int) -> dt.date:
    return dt.date(year + 1, REPORT_DUE_MONTH, REPORT_DUE_DAY)


def trust_out(trust: Trust, years: list[int]) -> TrustOut:
    """Not 1:1: adds the years reported, read from the reports."""
    return TrustOut(
        id=trust.id,
        name=trust.name,
        record_number=trust.record_number,
        district_code=trust.district_code,
        trustee_kind=trust.trustee_kind,
        trustee_name=trust.trustee_name,
        trustee_credit_code=trust.trustee_credit_code,
        settlor_name=trust.settlor_name,
        scale_fen=trust.scale_fen,
        purpose=trust.purpose,
        established_on=trust.established_on,
        term_ends_on=trust.term_ends_on,
        reported_years=years,
    )


async def reported_years(session: AsyncSession, trust_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {t: [] for t in trust_ids}
    if trust_ids:
        for trust_id, year in await session.execute(
            select(TrustReport.trust_id, TrustReport.year)
            .where(TrustReport.trust_id.in_(trust_ids))
            .order_by(TrustReport.year)
        ):
            found[trust_id].append(year)
    return found


async def create_trust(session: AsyncSession, principal: Principal, data: TrustIn) -> Trust:
    if not principal.covers(data.district_code):
        raise Forbidden(
            "district {district_code} is outside your area {area}",
            district_code=data.district_code,
            area=principal.area,
        )
    check_district(data.district_code, "district_code", or_city=True)
    try:
        code = uscc.validate(data.trustee_credit_code)
    except stdnum_errors.ValidationError:
        raise InvalidInput("trustee_credit_code", "not a valid 统一社会信用代码 (GB 32100)") from None
    if data.established_on > clock.today():
        raise InvalidInput("established_on", "cannot be in the future")
    if data.term_ends_on is not None and data.term_ends_on <= data.established_on:
        raise InvalidInput("term_ends_on", "must be after established_on")
    existing = await session.scalar(select(Trust.id).where(Trust.record_number == data.record_number))
    if existing is not None:
        raise Conflict(
            "record number {record_number} is already filed",
            resource=f"trusts/{existing}",
            record_number=data.record_number,
        )
    trust = Trust(
        **(data.model_dump() | {"trustee_credit_code": code}), created_by=principal.subject, created_at=utcnow()
    )
    session.add(trust)
    await session.flush()
    return trust


async def get_trust(session: AsyncSession, trust_id: int) -> Trust:
    trust = await get_or_404(session, Trust, trust_id, "no trust {trust_id}", trust_id=trust_id)
    return trust


async def list_trusts(session: AsyncSession, page: PageParams, *, district: str | None) -> list[TrustOut]:
    query = keyset(select(Trust), Trust.id, page)
    if district:
        query = query.where(within_area(Trust.district_code, district))
    rows = list(await session.scalars(query))
    years = await reported_years(session, [t.id for t in rows])
    return [trust_out(t, years[t.id]) for t in rows]


async def add_report(session: AsyncSession, principal: Principal, trust_id: int, data: TrustReportIn) -> TrustReportOut:
    trust = await get_trust(session, trust_id)
    if not principal.covers(trust.district_code):
        raise NotFound("no trust {trust_id} that you may report for", trust_id=trust_id)
    today = clock.today()
    if not trust.established_on.year <= data.year < today.year:
        raise InvalidInput("year", "a finished year from {year} on", year=trust.established_on.year)
    existing = await session.scalar(
        select(TrustReport.id).where(TrustReport.trust_id == trust.id, TrustReport.year == data.year)
    )
    if existing is not None:
        raise Conflict(
            "the {year} report is already in", resource=f"trusts/{trust.id}/reports/{existing}", year=data.year
        )
    report = TrustReport(trust_id=trust.id, **data.model_dump(), submitted_on=today, submitted_by=principal.subject)
    session.add(report)
    await session.flush()
    return TrustReportOut.model_validate(report)


def missing_reports(trust: Trust, reported: set[int], today: dt.date) -> list[tuple[int, dt.date]]:
    """Years the trust ran whose report is past due and not in."""
    last_year = today.year - 1
    if trust.term_ends_on is not None:
        last_year = min(last_year, trust.term_ends_on.year)
    return [
        (year, report_due(year))
        for year in range(trust.established_on.year, last_year + 1)
        if year not in reported and today > report_due(year)
    ]


async def overdue_reports(session: AsyncSession, principal: Principal) -> list[OverdueReport]:
    if not principal.is_area_staff:
        return []
    today = clock.today()
    trusts = list(
        await session.scalars(select(Trust).where(within_area(Trust.district_code, principal.area)).order_by(Trust.id))
    )
    years = await reported_years(session, [t.id for t in trusts])
    found = [
        OverdueReport(
            trust_id=t.id,
            name=t.name,
            district_code=t.district_code,
            year=year,
            due_on=due,
            days_overdue=(today - due).days,
        )
        for t in trusts
        for year, due in missing_reports(t, set(years[t.id]), today)
    ]
    return sorted(found, key=lambda o: (o.due_on, o.trust_id))


# ---- community funds (社区慈善基金) ----
def _community(code: str) -> None:
    """A community fund is for a community (社区) or village (村) of the city as the division tree has it today."""
    found = divisions.division(code)
    if found is None or found.level != "village":
        raise InvalidInput("community_code", "not a community or village of the city's division tree")
    if not found.current:
        today = divisions.current(code)
        raise InvalidInput(
            "community_code",
            "{name} is no longer a division; today: {today_name} {today_code}"
            if today
            else "{name} is no longer a division",
            name=found.name,
            today_name=today.name if today else "",
            today_code=today.code if today else "",
        )


FUNDS_LOCK = 0x63666E64  # the advisory locks' namespace ("cfnd"): one lock per district, keyed by its code


async def _lock_district(session: AsyncSession, district: str) -> None:
    """Hold the district's community funds and its stated base until commit, so a fund and a restated base never
    pass their bound side by side. PostgreSQL: a transaction-level advisory lock (the base's row may not exist
    yet, so it cannot be the one locked); SQLite: BEGIN IMMEDIATE has serialised the transaction already."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(FUNDS_LOCK, int(district))))


async def _funds_in(session: AsyncSession, district: str) -> int:
    return int(await session.scalar(select(func.count()).where(CommunityFund.district_code == district)) or 0)


def _base_resource(district: str) -> str:
    return f"community-funds/coverage-base/{district}"


async def create_fund(session: AsyncSession, principal: Principal, data: CommunityFundIn) -> CommunityFund:
    if not principal.covers(data.community_code):
        raise Forbidden(
            "community {community_code} is outside your area {area}",
            community_code=data.community_code,
            area=principal.area,
        )
    _community(data.community_code)
    if data.host_organization_id is not None and await session.get(Organization, data.host_organization_id) is None:
        raise InvalidInput("host_organization_id", "no such organisation")
    if data.established_on > clock.today():
        raise InvalidInput("established_on", "cannot be in the future")
    existing = await session.scalar(select(CommunityFund.id).where(CommunityFund.community_code == data.community_code))
    if existing is not None:
        raise Conflict("this community already has a fund", resource=f"community-funds/{existing}")
    # Coverage is funds over the district's stated communities: never more funds than communities (over 100 %).
    district = data.community_code[:6]
    await _lock_district(session, district)
    base = await session.get(CommunityCount, district, populate_existing=True)
    funds = await _funds_in(session, district)
    if base is not None and funds >= base.communities:
        raise Conflict(
            "district {district} has {communities} communities as stated on {as_of} ({source}) and {funds} funds "
            "already; restate its number of communities first",
            resource=_base_resource(district),
            district=district,
            communities=base.communities,
            as_of=base.as_of.isoformat(),
            source=base.source,
            funds=funds,
        )
    fund = CommunityFund(
        **data.model_dump(), district_code=data.community_code[:6], created_by=principal.subject, created_at=utcnow()
    )
    session.add(fund)
    await session.flush()
    return fund


async def list_funds(session: AsyncSession, page: PageParams, *, area: str | None) -> list[CommunityFund]:
    query = keyset(select(CommunityFund), CommunityFund.id, page)
    if area:
        query = query.where(within_area(CommunityFund.community_code, area))
    return list(await session.scalars(query))


async def set_community_count(
    session: AsyncSession, principal: Principal, district: str, data: CommunityCountIn
) -> None:
    if not principal.covers(district):
        raise Forbidden("district {district} is outside your area {area}", district=district, area=principal.area)
    check_district(district, "district_code", location="path")
    await _lock_district(session, district)
    funds = await _funds_in(session, district)
    if data.communities < funds:
        raise Conflict(
            "district {district} has {funds} community funds, one per community: it cannot have fewer than "
            "{funds} communities ({communities} stated)",
            resource=_base_resource(district),
            district=district,
            funds=funds,
            communities=data.communities,
        )
    values = dict(communities=data.communities, as_of=data.as_of, source=data.source, set_by=principal.subject)
    await session.execute(
        conflict_insert(CommunityCount, session.get_bind().dialect.name)
        .values(district_code=district, **values)
        .on_conflict_do_update(index_elements=["district_code"], set_=values)
    )


async def coverage(session: AsyncSession, *, area: str | None) -> Coverage:
    counts = {c.district_code: c.communities for c in await session.scalars(select(CommunityCount))}
    funds = dict(
        (
            await session.execute(
                select(CommunityFund.district_code, func.count()).group_by(CommunityFund.district_code)
            )
        ).all()
    )
    districts = sorted(set(counts) | set(funds))
    if area:
        districts = [d for d in districts if d.startswith(area_prefix(area)) or area.startswith(d)]

    def pct(part: int, whole: int | None) -> float | None:
        return round(100 * part / whole, 2) if whole else None

    lines = [
        DistrictCoverage(
            district_code=d,
            communities=counts.get(d),
            with_fund=int(funds.get(d, 0)),
            coverage_pct=pct(int(funds.get(d, 0)), counts.get(d)),
            met=bool(counts.get(d)) and 100 * int(funds.get(d, 0)) >= COVERAGE_TARGET_PCT * counts[d],
        )
        for d in districts
    ]
    counted = [line for line in lines if line.communities]
    communities = sum(line.communities for line in counted)
    with_fund = sum(line.with_fund for line in counted)
    return Coverage(
        target_pct=COVERAGE_TARGET_PCT,
        communities=communities,
        with_fund=with_fund,
        coverage_pct=pct(with_fund, communities),
        met=communities > 0 and 100 * with_fund >= COVERAGE_TARGET_PCT * communities,
        districts=lines,
    )
