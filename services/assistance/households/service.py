"""Households and their members: who may record and see them, and one household per person."""

from __future__ import annotations

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.households.membership import MemberFacts, age_on, membership
from services.assistance.households.models import Household, Member
from services.assistance.households.schemas import MAX_MEMBERS, HouseholdIn, HouseholdOut, MemberIn, MemberOut
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import within_area
from shared.db import PerCaller, one_or_404, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.idnumbers import mask_id_number, parse_id_number
from shared.pagination import PageParams, keyset


def facts_of(member: Member) -> MemberFacts:
    return MemberFacts(
        birth_on=member.birth_on,
        relationship=member.relationship,
        schooling=member.schooling,
        full_time_student=member.full_time_student,
        labour_capacity=member.labour_capacity,
        lives_together=member.lives_together,
        legal_duty_of_support=member.legal_duty_of_support,
        exclusion=member.exclusion,
    )


def member_out(member: Member) -> MemberOut:
    today = clock.today()
    counted, basis = membership(facts_of(member), today)
    return MemberOut(
        id=member.id,
        id_number_masked=mask_id_number(member.id_number),
        name=member.name,
        sex=member.sex,
        birth_on=member.birth_on,
        age=age_on(member.birth_on, today),
        relationship=member.relationship,
        residence=member.residence,
        labour_capacity=member.labour_capacity,
        disability_grade=member.disability_grade,
        disability_kind=member.disability_kind,
        schooling=member.schooling,
        full_time_student=member.full_time_student,
        lives_together=member.lives_together,
        legal_duty_of_support=member.legal_duty_of_support,
        exclusion=member.exclusion,
        parents=member.parents,
        in_institution=member.in_institution,
        counted=counted,
        membership_basis=basis,
    )


def to_out(household: Household, members: list[Member]) -> HouseholdOut:
    out = [member_out(m) for m in members]
    return HouseholdOut(
        id=household.id,
        **address_out(household),
        members=out,
        counted_members=sum(m.counted for m in out),
        created_at=household.created_at,
    )


def visible_to(principal: Principal) -> Select:
    """Staff see households in their area and below; nobody else reads the register directly."""
    query = select(Household)
    if principal.is_area_staff:
        return query.where(within_area(Household.area_code, principal.area))
    return query.where(False)


# Who counts by relationship alone (membership.py); anyone else counts only with a legal duty of support.
COUNTED_BY_RELATIONSHIP = frozenset({"applicant", "spouse", "child"})


def check_member_facts(data: MemberIn, field: str) -> None:
    """Facts that decide who counts and what they may receive must be whole: a full-time student without a school
    level (an adult child counts only up to undergraduate), a relative without a stated duty of support, or a
    disability grade without its kind would otherwise be decided as if absent. Both the recorded household and an
    inline eligibility check go through here."""
    if (data.disability_grade is None) != (data.disability_kind is None):
        raise InvalidInput(f"{field}.disability_kind", "the disability grade and kind are given together")
    if data.relationship not in COUNTED_BY_RELATIONSHIP and data.legal_duty_of_support is None:
        raise InvalidInput(
            f"{field}.legal_duty_of_support",
            "say whether this {relationship} has a legal duty of support towards the applicant (法定赡养、扶养、抚养义务): "
            "they count only if so",
            relationship=data.relationship,
        )
    if data.full_time_student and data.schooling == "none":
        raise InvalidInput(
            f"{field}.schooling",
            "a full-time student needs a schooling level (an adult child in "
            "full-time education counts up to undergraduate, not beyond)",
        )


def _check_member(data: MemberIn, field: str) -> Member:
    """Validate one member's fields beyond the schema and build the row (without its household)."""
    id_number = parse_id_number(data.id_number, field=f"{field}.id_number")
    check_member_facts(data, field)
    return Member(
        id_number=id_number.value,
        name=data.name,
        birth_on=id_number.birth_date,
        sex=id_number.sex,
        relationship=data.relationship,
        residence=data.residence,
        labour_capacity=data.labour_capacity,
        disability_grade=data.disability_grade,
        disability_kind=data.disability_kind,
        schooling=data.schooling,
        full_time_student=data.full_time_student,
        lives_together=data.lives_together,
        legal_duty_of_support=bool(data.legal_duty_of_support),
        exclusion=data.exclusion,
        parents=data.parents,
        in_institution=data.in_institution,
        created_at=utcnow(),
    )


async def _refuse_people_elsewhere(session: AsyncSession, members: list[Member]) -> None:
    """A person belongs to one household: name the household that already holds them (409).

    The unique key on the blind index members.id_number_index holds the rule under concurrent writes; this check
    gives the clear answer.
    """
    by_index = {m.id_number_index: m.id_number for m in members}
    found = (
        await session.execute(
            select(Member.id_number_index, Member.household_id).where(Member.id_number_index.in_(by_index))
        )
    ).first()
    if found is not None:
        raise Conflict(
            "the person {by_index} is already a member of household {household_id}; a person belongs to one household",
            resource=f"households/{found.household_id}",
            by_index=mask_id_number(by_index[found.id_number_index]),
            household_id=found.household_id,
        )


def check_members(data: HouseholdIn) -> list[Member]:
    """The rules a new household's members must pass before anything is read or written: one applicant, each
    member's facts, nobody twice. Returns their rows (without their household). Recording a household and a
    spreadsheet import both check here."""
    applicants = [i for i, m in enumerate(data.members) if m.relationship == "applicant"]
    if len(applicants) != 1:
        raise InvalidInput(
            "members", "exactly one member is the applicant (申请人); found {count}", count=len(applicants)
        )
    members = [_check_member(m, f"members.{i}") for i, m in enumerate(data.members)]
    seen: dict[str, int] = {}
    for i, m in enumerate(members):
        if m.id_number in seen:
            raise InvalidInput(f"members.{i}.id_number", "the same person as members.{seen}", seen=seen[m.id_number])
        seen[m.id_number] = i
    return members


async def _recorded_with_applicant(session: AsyncSession, members: list[Member]) -> int | None:
    """The household whose applicant is this household's applicant: the same household, recorded before."""
    applicant = next(m for m in members if m.relationship == "applicant")
    household_id: int | None = await session.scalar(
        select(Member.household_id).where(
            Member.id_number_index == applicant.id_number_index, Member.relationship == "applicant"
        )
    )
    return household_id


async def check_import(session: AsyncSession, data: HouseholdIn) -> None:
    """A household from a spreadsheet: the rules of recording one; one recorded before with the same applicant is
    not a problem (it is skipped), anyone else already in a household is."""
    members = check_members(data)
    if await _recorded_with_applicant(session, members) is None:
        await _refuse_people_elsewhere(session, members)


async def create_many(
    session: AsyncSession, principal: Principal, items: list[tuple[HouseholdIn, AddressValues]]
) -> list[bool]:
    """Households from a spreadsheet, each through `create`: one whose applicant is already the applicant of a
    recorded household is skipped (False), so the same rows sent again create nothing."""
    created = []
    for data, address in items:
        present = await _recorded_with_applicant(session, check_members(data))
        if present is None:
            await create(session, principal, data, address)
        created.append(present is None)
    return created


async def create(
    session: AsyncSession, principal: Principal, data: HouseholdIn, address: AddressValues
) -> tuple[Household, list[Member]]:
    """`address`: the address as `shared.addresses.standardise_input` found it (the caller's area checked)."""
    return await record(session, data, address, created_by=principal.subject)


async def record(
    session: AsyncSession,
    data: HouseholdIn,
    address: AddressValues,
    *,
    created_by: str,
    declared_by: str | None = None,
) -> tuple[Household, list[Member]]:
    """Record a household and its members, once the caller may: staff of its area, or a resident declaring their
    own (`declared_by`, services/assistance/online). `address`: as `shared.addresses.standardise_input` found it."""
    members = check_members(data)
    await _refuse_people_elsewhere(session, members)
    household = Household(**address.values, created_by=created_by, declared_by=declared_by, created_at=utcnow())
    session.add(household)
    await session.flush()
    for m in members:
        m.household_id = household.id
    session.add_all(members)
    await session.flush()
    return household, members


async def members_of(session: AsyncSession, household_id: int) -> list[Member]:
    return list(await session.scalars(select(Member).where(Member.household_id == household_id).order_by(Member.id)))


def _one_visible(principal: Principal, for_update: bool) -> Select:
    query = visible_to(principal).where(Household.id == bindparam("household_id"))
    return query.with_for_update() if for_update else query


# Built once per kind of caller and area, run with the household's id: building it and the cache key SQLAlchemy
# derives from a new statement cost about 0.3 ms of CPU per request (docs/benchmarks/eldercare.md, issue 18).
_one_visible_query = PerCaller(_one_visible)


async def get_visible(
    session: AsyncSession, principal: Principal, household_id: int, *, for_update: bool = False
) -> Household:
    household = await session.scalar(_one_visible_query(principal, for_update), {"household_id": household_id})
    if household is None:
        # The same answer whether the household does not exist or lies outside the caller's area.
        raise NotFound("no household {household_id} that you may see", household_id=household_id)
    return household


async def add_member(session: AsyncSession, principal: Principal, household_id: int, data: MemberIn) -> Member:
    household = await get_visible(session, principal, household_id, for_update=True)
    if data.relationship == "applicant":
        raise InvalidInput("relationship", "the household already has its applicant")
    # Under the household's lock (for_update): two additions at once cannot both take the last place.
    if len(await members_of(session, household.id)) >= MAX_MEMBERS:
        raise Conflict(
            "household {household_id} already has {max_members} members, the most a household may have",
            resource=f"households/{household.id}",
            household_id=household.id,
            max_members=MAX_MEMBERS,
        )
    member = _check_member(data, "member")
    member.household_id = household.id
    await _refuse_people_elsewhere(session, [member])
    session.add(member)
    await session.flush()
    return member


async def _member_of(session: AsyncSession, household: Household, member_id: int) -> Member:
    return await one_or_404(
        session,
        select(Member).where(Member.id == member_id, Member.household_id == household.id),
        "no member {member_id} in household {household_id}",
        member_id=member_id,
        household_id=household.id,
    )


async def get_visible_member(
    session: AsyncSession, principal: Principal, household_id: int, member_id: int
) -> tuple[Household, Member]:
    household = await get_visible(session, principal, household_id)
    member = await _member_of(session, household, member_id)
    return household, member


async def remove_member(session: AsyncSession, principal: Principal, household_id: int, member_id: int) -> None:
    household = await get_visible(session, principal, household_id, for_update=True)
    member = await _member_of(session, household, member_id)
    if member.relationship == "applicant":
        raise Conflict(
            "the applicant cannot be removed; record a new household instead",
            resource=f"households/{household_id}/members/{member_id}",
        )
    await session.execute(delete(Member).where(Member.id == member.id))


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    area_code: str | None,
    address_status: str | None = None,
) -> list[tuple[Household, list[Member]]]:
    query = keyset(visible_to(principal), Household.id, page)
    if area_code:
        query = query.where(within_area(Household.area_code, area_code))
    if address_status:
        query = query.where(Household.address_status == address_status)
    households = list(await session.scalars(query))
    by_household: dict[int, list[Member]] = {h.id: [] for h in households}
    if households:
        for m in await session.scalars(select(Member).where(Member.household_id.in_(by_household)).order_by(Member.id)):
            by_household[m.household_id].append(m)
    return [(h, by_household[h.id]) for h in households]
