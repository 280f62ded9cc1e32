from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.jobs import tasks
from services.charity.organizations import service
from services.charity.organizations.auth import OrganizationsWriter
from services.charity.organizations.models import Organization
from services.charity.organizations.schemas import FundraisingGrantIn, OrganizationIn, OrganizationOut
from services.charity.organizations.service import to_out
from shared.addresses import (
    AddressChangeIn,
    AddressStatus,
    enqueue_if_pending,
    give_address_again,
    placenames_of,
    staff_record,
    standardise_input,
)
from shared.areas import DISTRICT_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/organizations", tags=["organizations 慈善组织"])


@router.post(
    "",
    status_code=201,
    response_model=OrganizationOut,
    summary="Register a social organisation",
    description="Adds an organisation (社会组织) to the register: 统一社会信用代码 validated (check "
    "character; civil-affairs code starting with 5), whether it is recognised as a charity "
    "(认定为慈善组织) and since when, its evaluation grade (评估等级 1A–5A). Staff register "
    "organisations of their own area only. Its domicile (住所) is a standard address (`address_code`) or free "
    "text standardised through placenames (`address`), in the district it is registered in: ambiguous text is "
    "a 422 with the ranked `candidates`, text that cannot be placed a 422 naming the part; while placenames "
    "cannot be reached it is kept as `pending` and a job standardises it shortly. A code already registered is "
    "a 409 naming the organisation. A retry with the same `Idempotency-Key` returns the first result.",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def register_organization(
    data: OrganizationIn,
    request: Request,
    session: Session,
    principal: OrganizationsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrganizationOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(placenames_of(request.app), principal, data, fallback_area=data.district_code)

    async def create() -> OrganizationOut:
        org = await service.register(session, principal, data, address)
        await enqueue_if_pending(session, tasks, address)
        return to_out(org)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "",
    response_model=Page[OrganizationOut],
    summary="List organisations (public)",
    description="The public register: anyone may read it, no credentials needed. Contact phones are "
    "always masked. Filter by district, by charity status, and by public-fundraising "
    "qualification (公开募捐资格).",
    responses=problem_responses(422),
)
async def list_organizations(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    district: Annotated[str | None, Query(pattern=DISTRICT_CODE_PATTERN, description="District code")] = None,
    is_charity: Annotated[bool | None, Query(description="认定为慈善组织")] = None,
    qualified: Annotated[bool | None, Query(description="具有公开募捐资格")] = None,
    address_status: Annotated[
        AddressStatus | None, Query(description="`unresolved`: the domiciles staff must give again")
    ] = None,
) -> Page[OrganizationOut]:
    rows = await service.list_page(
        session, page, district=district, is_charity=is_charity, qualified=qualified, address_status=address_status
    )
    return page_of([to_out(r) for r in rows], page, key=lambda o: o.id)


@router.put(
    "/{org_id}/address",
    response_model=OrganizationOut,
    summary="Give an organisation's domicile again",
    description="A standard address code or free text, as at registration (an `unresolved` address, such as every "
    "organisation registered before domiciles were recorded; a move). Staff of its area; the new address must "
    "lie in theirs.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change_organization_address(
    org_id: int, data: AddressChangeIn, request: Request, session: Session, principal: OrganizationsWriter
) -> OrganizationOut:
    load = staff_record(session, principal, Organization, org_id, "organisation")
    return to_out(await give_address_again(request, session, principal, data, tasks, load))


@router.get(
    "/{org_id}",
    response_model=OrganizationOut,
    summary="One organisation (public)",
    description="Anyone may read it; the contact phone is masked.",
    responses=problem_responses(404, 422),
)
async def get_organization(org_id: int, session: Session) -> OrganizationOut:
    return to_out(await service.get(session, org_id))


@router.post(
    "/{org_id}/fundraising-qualification",
    response_model=OrganizationOut,
    summary="Grant the public-fundraising qualification",
    description="Grants 公开募捐资格 (慈善法 art. 22): only to an organisation recognised as a charity on "
    "the grant date and registered at least one year before it. Otherwise, or when it already "
    "holds the qualification, a 409 with the reason. Staff of the organisation's area only.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def grant_fundraising_qualification(
    org_id: int, session: Session, principal: OrganizationsWriter, data: FundraisingGrantIn | None = None
) -> OrganizationOut:
    return to_out(await service.grant_fundraising(session, principal, org_id, data or FundraisingGrantIn()))
