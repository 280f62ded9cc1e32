"""Rules about older people: who may be registered, and who may see whom."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.carelinks.models import CareLinkRequest
from services.eldercare.elders.models import Elder, ElderCarer, elder_id_number_index
from services.eldercare.elders.schemas import ElderIn, ElderOut
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import within_area
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.idnumbers import IdNumber, mask_id_number, mask_phone, parse_id_number
from shared.pagination import PageParams, keyset

MIN_AGE = 60
ADVANCED_AGE = 80


async def audit_subjects(session: AsyncSession, id_number: str) -> list[tuple[str, str]]:
    """The audit subjects that are the person with this ID number: their elder record, found by blind index."""
    ids = await session.scalars(select(Elder.id).where(Elder.id_number_index == elder_id_number_index(id_number)))
    return [("elder", str(elder_id)) for elder_id in ids]


def age_of(elder: Elder, day: dt.date | None = None) -> int:
    """Age in whole years on `day` (default: today in Asia/Shanghai)."""
    day = day or clock.today()
    return day.year - elder.birth_on.year - ((day.month, day.day) < (elder.birth_on.month, elder.birth_on.day))


def to_out(elder: Elder) -> ElderOut:
    """Not a 1:1 mapping: masks the ID number and phone, and computes the age."""
    age = age_of(elder)
    return ElderOut(
        id=elder.id,
        id_number_masked=mask_id_number(elder.id_number),
        name=elder.name,
        sex=elder.sex,
        birth_on=elder.birth_on,
        age=age,
        is_advanced_age=age >= ADVANCED_AGE,
        phone_masked=mask_phone(elder.phone) if elder.phone else None,
        **address_out(elder),
        lives_alone=elder.lives_alone,
        emergency_contacts_count=len(elder.emergency_contacts or []),
        created_at=elder.created_at,
    )


def visible_to(principal: Principal) -> Select:
    """The elders a caller may see: staff their area and below; residents themself and those they care for."""
    query = select(Elder)
    if principal.is_area_staff:
        return query.where(within_area(Elder.area_code, principal.area))
    if principal.kind == "resident":
        return query.where(exists().where(ElderCarer.elder_id == Elder.id, ElderCarer.subject == principal.subject))
    # Partners and services see older people only through purpose-built endpoints, not the register.
    return query.where(False)


def check_new(data: ElderIn) -> IdNumber:
    """The rules a registration must pass before anything is written, beyond its address: a valid ID number of
    someone aged 60 or more. The create route and a spreadsheet import both check here."""
    id_number = parse_id_number(data.id_number)
    age = id_number.age_on(clock.today())
    if age < MIN_AGE:
        raise InvalidInput(
            "id_number",
            "the person is {age}; eldercare registers people aged {min_age} or older",
            age=age,
            min_age=MIN_AGE,
        )
    return id_number


async def register(session: AsyncSession, principal: Principal, data: ElderIn, address: AddressValues) -> Elder:
    """`address`: the address as `shared.addresses.standardise_input` found it (the caller's area checked). A 409
    naming the record when the person is already registered."""
    (outcome,) = await register_many(session, principal, [(data, address)])
    if isinstance(outcome, int):
        raise Conflict("this person is already registered", resource=f"elders/{outcome}")
    return outcome


async def register_many(
    session: AsyncSession, principal: Principal, items: Sequence[tuple[ElderIn, AddressValues]]
) -> list[Elder | int]:
    """Register people, each checked by `check_new`, each with its address's columns: for each, the new record, or
    the id of the one that already holds the ID number (nothing is written for them). One query per step for the
    lot, so a spreadsheet of a street's register is written in chunks, not person by person. The same ID number
    twice in `items` is the caller's to avoid."""
    parsed = [(data, address, check_new(data)) for data, address in items]
    indexes = [elder_id_number_index(id_number.value) for _, _, id_number in parsed]
    existing = dict(
        (await session.execute(select(Elder.id_number_index, Elder.id).where(Elder.id_number_index.in_(indexes)))).all()
    )
    now = utcnow()
    new = [
        (data, address, id_number, index)
        for (data, address, id_number), index in zip(parsed, indexes, strict=True)
        if index not in existing
    ]
    # One INSERT … RETURNING for the lot (an ORM bulk insert: no unit of work to sort and flush), in order.
    elders = (
        list(
            await session.scalars(
                insert(Elder).returning(Elder, sort_by_parameter_order=True),
                [
                    dict(
                        id_number=id_number.value,
                        id_number_index=index,
                        name=data.name,
                        sex=id_number.sex,
                        birth_on=id_number.birth_date,
                        phone=data.phone,
                        **address.values,
                        lives_alone=data.lives_alone,
                        emergency_contacts=[c.model_dump() for c in data.emergency_contacts],
                        registered_by=principal.subject,
                        created_at=now,
                    )
                    for data, address, id_number, index in new
                ],
            )
        )
        if new
        else []
    )
    made = {elder.id_number_index: elder for elder in elders}
    outcomes: list[Elder | int] = [existing.get(index) or made[index] for index in indexes]
    created = [(elder, data) for elder, (data, *_) in zip(elders, new, strict=True)]
    if not created:
        return outcomes
    # Residents who asked to care for these people before they were registered: their requests now name them.
    by_index = {elder.id_number_index: elder.id for elder, _ in created}
    waiting = await session.execute(
        select(CareLinkRequest.id, CareLinkRequest.id_number_index).where(
            CareLinkRequest.id_number_index.in_(list(by_index)),
            CareLinkRequest.elder_id.is_(None),
            CareLinkRequest.status == "pending",
        )
    )
    for request_id, index in waiting.all():
        await session.execute(
            update(CareLinkRequest)
            .where(CareLinkRequest.id == request_id)
            .values(elder_id=by_index[index])
            .execution_options(synchronize_session=False)
        )
    carers = [
        ElderCarer(elder_id=elder.id, subject=c.subject, relation=c.relation)
        for elder, data in created
        for c in data.carers
    ]
    if carers:
        session.add_all(carers)
        await session.flush()
    return outcomes


async def get_visible(session: AsyncSession, principal: Principal, elder_id: int, *, for_update: bool = False) -> Elder:
    query = visible_to(principal).where(Elder.id == elder_id)
    elder = await session.scalar(query.with_for_update() if for_update else query)
    if elder is None:
        # The same answer whether the person does not exist or belongs to someone else's area.
        raise NotFound("no older person {elder_id} that you may see", elder_id=elder_id)
    return elder


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    area_code: str | None,
    lives_alone: bool | None,
    address_status: str | None = None,
) -> list[Elder]:
    query = keyset(visible_to(principal), Elder.id, page)
    if area_code:
        query = query.where(within_area(Elder.area_code, area_code))
    if address_status:
        query = query.where(Elder.address_status == address_status)
    if lives_alone is not None:
        query = query.where(Elder.lives_alone == lives_alone)
    return list(await session.scalars(query))
