from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.trusts import service
from services.charity.trusts.auth import TrustsReader, TrustsWriter
from services.charity.trusts.schemas import (
    CommunityCountIn,
    CommunityFundIn,
    CommunityFundOut,
    Coverage,
    OverdueReport,
    TrustIn,
    TrustOut,
    TrustReportIn,
    TrustReportOut,
)
from shared.areas import DISTRICT_CODE_PATTERN, DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["trusts and community funds 慈善信托与社区慈善基金"])


@router.post(
    "/trusts",
    status_code=201,
    response_model=TrustOut,
    summary="File a charity trust (慈善信托备案)",
    description="Trustee (受托人: a trust company or a charity, credit code validated), settlor (委托人), scale, "
    "purpose and term. The record number is unique (409). Staff of the filing district.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_trust(
    data: TrustIn,
    request: Request,
    session: Session,
    principal: TrustsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> TrustOut:
    async def create() -> TrustOut:
        return service.trust_out(await service.create_trust(session, principal, data), [])

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/trusts",
    response_model=Page[TrustOut],
    summary="The trust registry (public)",
    description="No sign-in: filed charity trusts with the years their reports are in.",
    responses=problem_responses(422),
)
async def list_trusts(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    district: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
) -> Page[TrustOut]:
    return page_of(await service.list_trusts(session, page, district=district), page, key=lambda t: t.id)


@router.get(
    "/trusts/overdue-reports",
    response_model=list[OverdueReport],
    summary="Overdue yearly reports",
    description="Trusts of your area whose yearly report (年度报告) is past its due date (31 March of the "
    "following year) and not in. Oldest first.",
    responses=problem_responses(401, 403),
)
async def overdue_reports(session: Session, principal: TrustsReader) -> list[OverdueReport]:
    return await service.overdue_reports(session, principal)


@router.get(
    "/trusts/{trust_id}",
    response_model=TrustOut,
    summary="One trust (public)",
    description="No sign-in: a filed charity trust (慈善信托) and the years its reports are in.",
    responses=problem_responses(404, 422),
)
async def get_trust(trust_id: int, session: Session) -> TrustOut:
    trust = await service.get_trust(session, trust_id)
    return service.trust_out(trust, (await service.reported_years(session, [trust.id]))[trust.id])


@router.post(
    "/trusts/{trust_id}/reports",
    status_code=201,
    response_model=TrustReportOut,
    summary="Record a trust's yearly report",
    description="One report per finished year since the trust was established; a second is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_report(trust_id: int, data: TrustReportIn, session: Session, principal: TrustsWriter) -> TrustReportOut:
    return await service.add_report(session, principal, trust_id, data)


@router.post(
    "/community-funds",
    status_code=201,
    response_model=CommunityFundOut,
    summary="Register a community charity fund",
    description="社区慈善基金 of one community (12-digit code, one fund per community: 409 otherwise). A 409 too "
    "when the district's stated number of communities (the base of coverage) all have a fund: restate it first.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_fund(data: CommunityFundIn, session: Session, principal: TrustsWriter) -> CommunityFundOut:
    return CommunityFundOut.model_validate(await service.create_fund(session, principal, data))


@router.get(
    "/community-funds",
    response_model=Page[CommunityFundOut],
    summary="Community funds (public)",
    description="No sign-in: community charity funds (社区慈善基金), filtered by area.",
    responses=problem_responses(422),
)
async def list_funds(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    area: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
) -> Page[CommunityFundOut]:
    rows = await service.list_funds(session, page, area=area)
    return page_of([CommunityFundOut.model_validate(f) for f in rows], page, key=lambda f: f.id)


@router.put(
    "/community-funds/coverage-base/{district_code}",
    status_code=204,
    summary="State a district's number of communities",
    description="The base of coverage: how many villages and communities (村、社区) the district has, as of a "
    "date and from a stated source. Never fewer than the district's registered community funds (one per "
    "community): a 409, so coverage never exceeds 100 %.",
    responses=problem_responses(401, 403, 409, 422),
)
async def set_community_count(
    district_code: Annotated[str, Path(pattern=DISTRICT_CODE_PATTERN)],
    data: CommunityCountIn,
    session: Session,
    principal: TrustsWriter,
) -> None:
    await service.set_community_count(session, principal, district_code, data)


@router.get(
    "/community-funds/coverage",
    response_model=Coverage,
    summary="Community fund coverage (public)",
    description="Per district: communities with a fund over the district's communities, against the 90% "
    "target; districts whose number of communities is not stated yet show null.",
    responses=problem_responses(422),
)
async def coverage(
    session: Session, area: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None
) -> Coverage:
    return await service.coverage(session, area=area)
