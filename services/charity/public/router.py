from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.charity.public import service
from services.charity.public.schemas import (
    HonourCategory,
    HonourList,
    PublicProject,
    PublicProjectSummary,
    PublicStatus,
)
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params
from shared.params import IsoDate

router = APIRouter(tags=["public 信息公开"])


@router.get(
    "/public/projects",
    response_model=Page[PublicProjectSummary],
    summary="Projects, publicly",
    description="No sign-in. Every filed project (drafts are not public) with its target and the money "
    "raised, spent and left, read from the ledger. No donor's personal data.",
    responses=problem_responses(422),
)
async def public_projects(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[PublicStatus | None, Query()] = None,
    district: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    organization_id: int | None = None,
) -> Page[PublicProjectSummary]:
    rows = await service.list_projects(session, page, status=status, district=district, organization_id=organization_id)
    return page_of(rows, page, key=lambda p: p.id)


@router.get(
    "/public/projects/{project_id}",
    response_model=PublicProject,
    summary="One project, publicly",
    description="No sign-in. The fundraising's filing (备案编号), money raised and spent by budget line, "
    "each payment (beneficiaries shown as 受益人, suppliers by name), and every disclosure with "
    "its corrections. Donors appear only as a count.",
    responses=problem_responses(404, 422),
)
async def public_project(project_id: int, session: Session) -> PublicProject:
    return await service.project(session, project_id)


@router.get(
    "/honour-list",
    response_model=HonourList,
    summary="Honour list (慈善榜)",
    description="No sign-in. Donors who agreed to be listed, ranked by what they gave in the period less "
    "refunds, non-cash gifts (非货币捐赠) at their stated value: people, companies (enterprise credit "
    "codes) and organisations; anonymous gifts appear as 爱心人士. Default period: this year to "
    "today.",
    responses=problem_responses(422),
)
async def honour_list(
    session: Session,
    period_from: IsoDate | None = None,
    period_to: IsoDate | None = None,
    category: Annotated[HonourCategory | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> HonourList:
    return await service.honour_list(
        session, period_from=period_from, period_to=period_to, category=category, limit=limit
    )
