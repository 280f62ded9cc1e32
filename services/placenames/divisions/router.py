from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from services.placenames.divisions import service
from services.placenames.divisions.schemas import DivisionDetail, DivisionOut, Level
from services.placenames.divisions.service import to_out
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/divisions", tags=["divisions 行政区划"])


@router.get(
    "",
    response_model=Page[DivisionOut],
    summary="List administrative divisions (public)",
    description="行政区划: the city (市), its districts (区县市), townships and streets (乡镇街道) and villages "
    "and communities (村社区), ordered by code. Filter by direct parent and by level. Only "
    "divisions in force today unless `include_historical` (e.g. 江东区, abolished in 2016, and "
    "its eight streets under their 2016 codes). "
    "Public: no credentials needed.",
    responses=problem_responses(422),
)
async def list_divisions(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    parent: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN, description="Direct parent's code")] = None,
    level: Annotated[Level | None, Query(description="city, district, township or village")] = None,
    include_historical: Annotated[bool, Query(description="Also list divisions no longer in force")] = False,
) -> Page[DivisionOut]:
    rows = await service.list_page(session, page, parent=parent, level=level, include_historical=include_historical)
    return page_of([to_out(r) for r in rows], page, key=lambda d: d.code)


@router.get(
    "/{code}",
    response_model=DivisionDetail,
    summary="One division with its parents and successors",
    description="The division, its parent chain from 宁波市 down, and, for a historical division, what "
    "succeeded it (鄞县 330227 → 鄞州区 330212; at township level, the 2016 reorganisation: 百丈街道 "
    "330204001 of 江东区 → 330212008 of 鄞州区, with the dates and sources in `note`). Public.",
    responses=problem_responses(404, 422),
)
async def get_division(code: Annotated[str, Path(pattern=DIVISION_CODE_PATTERN)], session: Session) -> DivisionDetail:
    return await service.detail(session, code)
