from typing import Annotated

from fastapi import APIRouter, Depends

from services.eldercare.familybeds import service
from services.eldercare.familybeds.auth import FamilyBedsReader, FamilyBedsWriter
from services.eldercare.familybeds.schemas import EndIn, FamilyBedIn, FamilyBedOut
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/family-beds", tags=["family care beds 家庭养老床位"])


@router.post(
    "",
    status_code=201,
    response_model=FamilyBedOut,
    summary="Set up a family care bed",
    description="A bed at home (家庭养老床位) for a person in the caller's area, served by a provider with a "
    "service package. One active family bed per person (409 naming it).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create(data: FamilyBedIn, session: Session, principal: FamilyBedsWriter) -> FamilyBedOut:
    return FamilyBedOut.model_validate(await service.create(session, principal, data))


@router.get(
    "",
    response_model=Page[FamilyBedOut],
    summary="Family care beds you may see",
    description="Staff: their area; residents: the people they care for. `active=true` keeps current ones.",
    responses=problem_responses(401, 403, 422),
)
async def list_beds(
    session: Session,
    principal: FamilyBedsReader,
    page: Annotated[PageParams, Depends(page_params)],
    active: bool = False,
) -> Page[FamilyBedOut]:
    rows = await service.list_beds(session, principal, page, active=active)
    return page_of([FamilyBedOut.model_validate(b) for b in rows], page, key=lambda b: b.id)


@router.get(
    "/{bed_id}",
    response_model=FamilyBedOut,
    summary="One family care bed",
    description="Provider, service package, visits per month and dates.",
    responses=problem_responses(401, 403, 404),
)
async def get(bed_id: int, session: Session, principal: FamilyBedsReader) -> FamilyBedOut:
    return FamilyBedOut.model_validate(await service.get(session, principal, bed_id))


@router.post(
    "/{bed_id}/end",
    response_model=FamilyBedOut,
    summary="End a family care bed",
    description="Ends an active family bed on a date not before its start and not after today (a bed not yet "
    "started ends on its start day); a second end is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def end(bed_id: int, data: EndIn, session: Session, principal: FamilyBedsWriter) -> FamilyBedOut:
    return FamilyBedOut.model_validate(await service.end(session, principal, bed_id, data.ended_on))
