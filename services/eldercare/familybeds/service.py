"""Family care beds (家庭养老床位): a bed at home with a provider and a service package, one active per person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import get_visible, visible_to
from services.eldercare.familybeds.models import FamilyBed
from services.eldercare.familybeds.schemas import FamilyBedIn
from services.eldercare.homecare.models import Provider
from shared import clock
from shared.db import get_or_404, one_or_404, utcnow
from shared.errors import Conflict, InvalidInput
from shared.identity import Principal
from shared.pagination import PageParams, keyset


def visible(principal: Principal) -> Select:
    elders = visible_to(principal).with_only_columns(Elder.id)
    return select(FamilyBed).where(FamilyBed.elder_id.in_(elders))


async def get(session: AsyncSession, principal: Principal, bed_id: int) -> FamilyBed:
    return await one_or_404(
        session,
        visible(principal).where(FamilyBed.id == bed_id).execution_options(populate_existing=True),
        "no family bed {bed_id} that you may see",
        bed_id=bed_id,
    )


async def create(session: AsyncSession, principal: Principal, data: FamilyBedIn) -> FamilyBed:
    elder = await get_visible(session, principal, data.elder_id)
    await get_or_404(session, Provider, data.provider_id, "no provider {provider_id}", provider_id=data.provider_id)
    if data.started_on > clock.today() + dt.timedelta(days=90):
        raise InvalidInput("started_on", "at most 90 days ahead")
    existing = await session.scalar(
        select(FamilyBed.id).where(FamilyBed.elder_id == elder.id, FamilyBed.status == "active")
    )
    if existing is not None:
        raise Conflict("this person already has an active family bed", resource=f"family-beds/{existing}")
    bed = FamilyBed(**data.model_dump(), status="active", created_by=principal.subject, created_at=utcnow())
    session.add(bed)
    elder_id = elder.id
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("this person already has an active family bed", resource=f"elders/{elder_id}") from None
    return bed


async def list_beds(session: AsyncSession, principal: Principal, page: PageParams, *, active: bool) -> list[FamilyBed]:
    query = keyset(visible(principal), FamilyBed.id, page)
    if active:
        query = query.where(FamilyBed.status == "active")
    return list(await session.scalars(query))


async def end(session: AsyncSession, principal: Principal, bed_id: int, ended_on: dt.date) -> FamilyBed:
    bed = await get(session, principal, bed_id)
    if ended_on < bed.started_on:
        raise InvalidInput("ended_on", "must not be before the start")
    # An end is recorded when it happens (a bed not yet started ends on its start day): a bed ended in 2199 was
    # 'ended' at once, and a second bed for the person then ran alongside it for years.
    if ended_on > max(clock.today(), bed.started_on):
        raise InvalidInput("ended_on", "must not be in the future")
    done = await session.execute(
        update(FamilyBed)
        .where(FamilyBed.id == bed_id, FamilyBed.status == "active")
        .values(status="ended", ended_on=ended_on)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict("family bed {bed_id} has already ended", resource=f"family-beds/{bed_id}", bed_id=bed_id)
    return await get(session, principal, bed_id)
