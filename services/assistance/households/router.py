from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.assistance.database import IDEMPOTENCY_KEYS, PII_READS
from services.assistance.households import service
from services.assistance.households.auth import HouseholdsPiiReader, HouseholdsReader, HouseholdsWriter
from services.assistance.households.models import Household
from services.assistance.households.schemas import HouseholdIn, HouseholdOut, MemberIn, MemberOut
from services.assistance.jobs import tasks
from shared.addresses import (
    AddressChangeIn,
    AddressStatus,
    enqueue_if_pending,
    give_address_again,
    placenames_of,
    standardise_input,
)
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.pii_reads import PiiReadIn, PiiReadOut, record_pii_read

router = APIRouter(prefix="/households", tags=["households 救助家庭"])


@router.post(
    "",
    status_code=201,
    response_model=HouseholdOut,
    summary="Record a household and its members",
    description="Records a household (家庭) in the caller's area with its members: ID number (validated, "
    "masked in every response), relationship to the applicant (申请人), 户籍 or 常住, labour "
    "capacity (劳动能力), disability grade and kind, schooling, and exclusions (服刑, 宣告失踪, "
    "宗教教职人员离家3年以上). Each member's `counted` says whether they are a member of the "
    "household for the assessment (共同生活的家庭成员) and why. A person already in another "
    "household is a 409 naming it. The home is a standard address (`address_code`) or free text "
    "standardised through placenames (`address`), and gives the household its division (`area_code`): "
    "outside your area is a 403, ambiguous text a 422 with the ranked `candidates`, text that cannot be "
    "placed a 422 naming the part. While placenames cannot be reached the household is recorded with "
    "`address_status` `pending` and a job standardises it shortly. Retries with the same `Idempotency-Key` "
    "are safe.",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_household(
    data: HouseholdIn,
    request: Request,
    session: Session,
    principal: HouseholdsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HouseholdOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(placenames_of(request.app), principal, data)

    async def create() -> HouseholdOut:
        household, members = await service.create(session, principal, data, address)
        await enqueue_if_pending(session, tasks, address)
        return service.to_out(household, members)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "",
    response_model=Page[HouseholdOut],
    summary="List households you may see",
    description="Staff see households in their area and below (社区 → 街道 → 区县 → 市).",
    responses=problem_responses(401, 403, 422),
)
async def list_households(
    session: Session,
    principal: HouseholdsReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    address_status: Annotated[
        AddressStatus | None, Query(description="`unresolved`: the addresses staff must give again")
    ] = None,
) -> Page[HouseholdOut]:
    rows = await service.list_visible(session, principal, page, area_code=area_code, address_status=address_status)
    return page_of([service.to_out(h, m) for h, m in rows], page, key=lambda h: h.id)


@router.get(
    "/{household_id}",
    response_model=HouseholdOut,
    summary="One household",
    description="The household and its members; 404 when it does not exist or is outside your area.",
    responses=problem_responses(401, 403, 404),
)
async def get_household(household_id: int, session: Session, principal: HouseholdsReader) -> HouseholdOut:
    household = await service.get_visible(session, principal, household_id)
    return service.to_out(household, await service.members_of(session, household.id))


@router.put(
    "/{household_id}/address",
    response_model=HouseholdOut,
    summary="Give a household's address again",
    description="A standard address code or free text, as when the household was recorded: the division and "
    "position follow the address. For an `unresolved` address above all, and for a move. The new address "
    "must lie in your area (403); while placenames cannot be reached it is kept as `pending`.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change_household_address(
    household_id: int, data: AddressChangeIn, request: Request, session: Session, principal: HouseholdsWriter
) -> HouseholdOut:
    async def load(for_update: bool) -> Household:
        return await service.get_visible(session, principal, household_id, for_update=for_update)

    household = await give_address_again(request, session, principal, data, tasks, load)
    return service.to_out(household, await service.members_of(session, household.id))


@router.post(
    "/{household_id}/members",
    status_code=201,
    response_model=MemberOut,
    summary="Add a member",
    description="Adds a person to the household (e.g. a newborn, a spouse moving in). A person already in "
    "another household is a 409 naming it: remove them there first.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_member(household_id: int, data: MemberIn, session: Session, principal: HouseholdsWriter) -> MemberOut:
    return service.member_out(await service.add_member(session, principal, household_id, data))


@router.delete(
    "/{household_id}/members/{member_id}",
    status_code=204,
    summary="Remove a member",
    description="Removes a person who left the household (moved out, died). The applicant stays.",
    responses=problem_responses(401, 403, 404, 409),
)
async def remove_member(household_id: int, member_id: int, session: Session, principal: HouseholdsWriter) -> Response:
    await service.remove_member(session, principal, household_id, member_id)
    return Response(status_code=204)


@router.post(
    "/{household_id}/members/{member_id}/pii-reads",
    status_code=201,
    response_model=PiiReadOut,
    summary="Read a member's ID number in the clear (audited)",
    description="For a stated purpose (e.g. 入户核查：核对身份证件), the ID number of a member of a household you "
    "may see, in the clear. Each read writes an append-only audit record (who, whose, when, why, "
    "request id) in the same transaction: if it cannot be written, nothing is answered. Needs "
    "`assistance.pii:read` besides `assistance.households:read`; a household outside your area "
    "is 404, as is a member not in the household. A member's incomes are read in the clear one "
    "by one: `.../incomes/{income_id}/pii-reads`.",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_member_pii(
    household_id: int, member_id: int, data: PiiReadIn, session: Session, principal: HouseholdsPiiReader
) -> PiiReadOut:
    household, member = await service.get_visible_member(session, principal, household_id, member_id)
    return await record_pii_read(
        session,
        PII_READS,
        principal,
        subject_type="member",
        subject_id=member.id,
        subject_area=household.area_code,
        values={"id_number": member.id_number},
        purpose=data.purpose,
    )
