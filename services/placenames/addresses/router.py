from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from services.placenames.addresses import service
from services.placenames.addresses.auth import AddressesWriter
from services.placenames.addresses.schemas import (
    AddressDetail,
    AddressIn,
    AddressOut,
    ChangeIn,
    ChangeOut,
    MergeIn,
    SplitIn,
)
from shared.areas import DISTRICT_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params
from shared.schemas import MAX_INTEGER

router = APIRouter(tags=["addresses 标准地址"])
Code = Annotated[str, Path(pattern=r"^[0-9]{16}$", description="16-digit standard address code")]


@router.post(
    "/addresses",
    status_code=201,
    response_model=AddressOut,
    summary="Issue a standard address",
    description="标准地址: district → township/street → community → road → house number → building → unit → "
    "room, with a new code that never changes and is never reused. Numbers are normalised "
    "('５８８号', '五百八十八' → 588). No house number (有址无号) is allowed in a named area. A "
    "current address with the same parts is a 409 naming it.",
    responses=problem_responses(401, 403, 409, 422),
)
async def issue_address(data: AddressIn, session: Session, principal: AddressesWriter) -> AddressOut:
    return AddressOut.model_validate(await service.issue(session, principal, data))


@router.get(
    "/addresses",
    response_model=Page[AddressOut],
    summary="List standard addresses (public)",
    description="Ordered by code; current only unless `include_retired`.",
    responses=problem_responses(422),
)
async def list_addresses(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    district_code: Annotated[str | None, Query(pattern=DISTRICT_CODE_PATTERN)] = None,
    road_id: Annotated[int | None, Query(ge=1, le=MAX_INTEGER)] = None,
    include_retired: bool = False,
) -> Page[AddressOut]:
    rows = await service.list_page(
        session, page, district_code=district_code, road_id=road_id, include_retired=include_retired
    )
    return page_of([AddressOut.model_validate(r) for r in rows], page, key=lambda a: a.code)


@router.get(
    "/addresses/{code}",
    response_model=AddressDetail,
    summary="One standard address (public)",
    description="The address, its lineage (split 拆分, merge 合并, rename 更名, retire 注销) and its door plates.",
    responses=problem_responses(404, 422),
)
async def get_address(code: Code, session: Session) -> AddressDetail:
    return await service.detail(session, code)


@router.post(
    "/addresses/{code}/retire",
    response_model=AddressOut,
    summary="Retire a standard address",
    description="注销: the address stays readable with status retired; its code is never issued again.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def retire_address(code: Code, data: ChangeIn, session: Session, principal: AddressesWriter) -> AddressOut:
    return AddressOut.model_validate(await service.retire(session, principal, code, data))


@router.post(
    "/addresses/{code}/split",
    status_code=201,
    response_model=ChangeOut,
    summary="Split an address",
    description="拆分: the address is retired and each part gets a new code, linked by lineage.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def split_address(code: Code, data: SplitIn, session: Session, principal: AddressesWriter) -> ChangeOut:
    retired, issued = await service.split(session, principal, code, data)
    return ChangeOut(retired=retired, issued=[AddressOut.model_validate(a) for a in issued])


@router.post(
    "/address-merges",
    status_code=201,
    response_model=ChangeOut,
    summary="Merge addresses",
    description="合并: the listed current addresses are retired and one new address issued, linked by lineage.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def merge_addresses(data: MergeIn, session: Session, principal: AddressesWriter) -> ChangeOut:
    retired, issued = await service.merge(session, principal, data)
    return ChangeOut(retired=retired, issued=[AddressOut.model_validate(a) for a in issued])
