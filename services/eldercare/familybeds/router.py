"""Family care beds (家庭养老床位): rules and HTTP in one small module."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import get_visible, visible_to
from services.eldercare.familybeds.models import FamilyBed
from services.eldercare.homecare.models import Provider
from services.eldercare.scopes import FAMILY_BEDS_READ, FAMILY_BEDS_WRITE
from shared import clock
from shared.db import Session, utcnow
from shared.errors import Conflict, InvalidInput, NotFound, problem_responses
from shared.identity import Principal, require
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/family-beds", tags=["family care beds 家庭养老床位"])

Package = Literal["basic", "standard", "intensive"]


class FamilyBedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    provider_id: int = Field(gt=0)
    package: Package = Field(description="basic 基础, standard 标准, intensive 强化 service package")
    visits_per_month: int = Field(ge=1, le=62, strict=True)
    started_on: dt.date


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ended_on: dt.date


class FamilyBedOut(BaseModel):
    id: int
    elder_id: int
    provider_id: int
    package: Package
    visits_per_month: int
    started_on: dt.date
    ended_on: dt.date | None
    status: Literal["active", "ended"]


def _out(b: FamilyBed) -> FamilyBedOut:
    return FamilyBedOut(id=b.id, elder_id=b.elder_id, provider_id=b.provider_id, package=b.package,
                        visits_per_month=b.visits_per_month, started_on=b.started_on, ended_on=b.ended_on,
                        status=b.status)


async def _visible(session: AsyncSession, principal: Principal, bed_id: int) -> FamilyBed:
    elders = visible_to(principal).with_only_columns(Elder.id)
    bed = await session.scalar(select(FamilyBed).where(FamilyBed.id == bed_id, FamilyBed.elder_id.in_(elders))
                               .execution_options(populate_existing=True))
    if bed is None:
        raise NotFound(f"no family bed {bed_id} that you may see")
    return bed


@router.post("", status_code=201, response_model=FamilyBedOut, summary="Set up a family care bed",
             description="A bed at home (家庭养老床位) for a person in the caller's area, served by a provider with a "
                         "service package. One active family bed per person (409 naming it).",
             responses=problem_responses(401, 403, 404, 409, 422))
async def create(data: FamilyBedIn, session: Session,
                 principal: Annotated[Principal, require(FAMILY_BEDS_WRITE)]) -> FamilyBedOut:
    elder = await get_visible(session, principal, data.elder_id)
    if await session.get(Provider, data.provider_id) is None:
        raise NotFound(f"no provider {data.provider_id}")
    if data.started_on > clock.today() + dt.timedelta(days=90):
        raise InvalidInput("started_on", "at most 90 days ahead")
    existing = await session.scalar(select(FamilyBed.id).where(FamilyBed.elder_id == elder.id,
                                                               FamilyBed.status == "active"))
    if existing is not None:
        raise Conflict("this person already has an active family bed", resource=f"family-beds/{existing}")
    bed = FamilyBed(**data.model_dump(), status="active", created_by=principal.subject, created_at=utcnow())
    session.add(bed)
    elder_id = elder.id
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("this person already has an active family bed", resource=f"elders/{elder_id}") from None
    return _out(bed)


@router.get("", response_model=Page[FamilyBedOut], summary="Family care beds you may see",
            description="Staff: their area; residents: the people they care for. `active=true` keeps current ones.",
            responses=problem_responses(401, 403, 422))
async def list_beds(session: Session, principal: Annotated[Principal, require(FAMILY_BEDS_READ)],
                    page: Annotated[PageParams, Depends(page_params)], active: bool = False) -> Page[FamilyBedOut]:
    elders = visible_to(principal).with_only_columns(Elder.id)
    query = select(FamilyBed).where(FamilyBed.elder_id.in_(elders)).order_by(FamilyBed.id).limit(page.limit + 1)
    if page.after is not None:
        query = query.where(FamilyBed.id > int(page.after))
    if active:
        query = query.where(FamilyBed.status == "active")
    return page_of([_out(b) for b in await session.scalars(query)], page, key=lambda b: b.id)


@router.get("/{bed_id}", response_model=FamilyBedOut, summary="One family care bed",
            description="Provider, service package, visits per month and dates.",
            responses=problem_responses(401, 403, 404))
async def get(bed_id: int, session: Session,
              principal: Annotated[Principal, require(FAMILY_BEDS_READ)]) -> FamilyBedOut:
    return _out(await _visible(session, principal, bed_id))


@router.post("/{bed_id}/end", response_model=FamilyBedOut, summary="End a family care bed",
             description="Ends an active family bed on a date not before its start; a second end is a 409.",
             responses=problem_responses(401, 403, 404, 409, 422))
async def end(bed_id: int, data: EndIn, session: Session,
              principal: Annotated[Principal, require(FAMILY_BEDS_WRITE)]) -> FamilyBedOut:
    bed = await _visible(session, principal, bed_id)
    if data.ended_on < bed.started_on:
        raise InvalidInput("ended_on", "must not be before the start")
    done = await session.execute(update(FamilyBed).where(FamilyBed.id == bed_id, FamilyBed.status == "active")
                                 .values(status="ended", ended_on=data.ended_on)
                                 .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict(f"family bed {bed_id} has already ended", resource=f"family-beds/{bed_id}")
    return _out(await _visible(session, principal, bed_id))
