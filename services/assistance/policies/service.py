"""Policy parameters as dated versions: what was in force on a day, for a district, and adding new versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.policies.models import PolicyVersion
from services.assistance.policies.schemas import CATALOGUE, MAX_MONTHS, MIN_MONTHS, PolicyVersionIn, PolicyVersionOut
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.i18n import N_
from shared.identity import Principal


def to_out(version: PolicyVersion) -> PolicyVersionOut:
    return PolicyVersionOut(
        id=version.id,
        code=version.code,
        label=CATALOGUE[version.code].label,
        district_code=version.district_code,
        value=version.value,
        unit=version.unit,
        effective_on=version.effective_on,
        citation=version.citation,
        is_assumption=version.is_assumption,
        note=version.note,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def resource_of(version: PolicyVersion) -> str:
    return f"policies/{version.code}/versions/{version.id}"


async def in_force(
    session: AsyncSession, *, as_of: dt.date, district_code: str = CITY_CODE, code: str | None = None
) -> list[PolicyVersion]:
    """For each parameter, the latest version on or before `as_of`: the district's own if it has one, else the
    city-wide one. Raises NotFound when no version of the asked parameter(s) was in force."""
    districts = {CITY_CODE, district_code}
    query = (
        select(PolicyVersion)
        .where(PolicyVersion.effective_on <= as_of, PolicyVersion.district_code.in_(districts))
        .order_by(PolicyVersion.code, PolicyVersion.effective_on)
    )
    if code is not None:
        query = query.where(PolicyVersion.code == code)
    chosen: dict[str, PolicyVersion] = {}
    for version in await session.scalars(query):  # ascending dates: the last one seen wins
        current = chosen.get(version.code)
        own_beats_city = (
            current is not None and current.district_code != CITY_CODE and version.district_code == CITY_CODE
        )
        if not own_beats_city:
            chosen[version.code] = version
    if not chosen:
        what = code or N_("any parameter")
        raise NotFound(
            "no rule was in force on {as_of} for {what} in district {district_code}",
            as_of=as_of.isoformat(),
            what=what,
            district_code=district_code,
        )
    return list(chosen.values())


async def first_versions(
    session: AsyncSession, codes: list[str], district_code: str = CITY_CODE
) -> dict[str, PolicyVersion]:
    """The earliest version of each parameter that applies to the district (its own or the city-wide one)."""
    query = (
        select(PolicyVersion)
        .where(PolicyVersion.code.in_(codes), PolicyVersion.district_code.in_({CITY_CODE, district_code}))
        .order_by(PolicyVersion.effective_on.desc())
    )
    return {version.code: version for version in await session.scalars(query)}  # the earliest is seen last


async def history(session: AsyncSession, code: str, *, district_code: str | None = None) -> list[PolicyVersion]:
    if code not in CATALOGUE:
        raise NotFound("no policy parameter {code_}", code_=code)
    query = (
        select(PolicyVersion)
        .where(PolicyVersion.code == code)
        .order_by(PolicyVersion.district_code, PolicyVersion.effective_on)
    )
    if district_code is not None:
        query = query.where(PolicyVersion.district_code == district_code)
    return list(await session.scalars(query))


async def add_version(session: AsyncSession, principal: Principal, data: PolicyVersionIn) -> PolicyVersion:
    if not principal.is_city_staff:
        raise Forbidden("policy parameters are set by city-level staff of the bureau (area 330200)")
    expected = CATALOGUE[data.code].unit
    if data.unit != expected:
        raise InvalidInput(
            "unit", "{code_} is given in {expected}, not {unit}", code_=data.code, expected=expected, unit=data.unit
        )
    if expected == "months" and data.value < MIN_MONTHS:  # a period of no months would divide by nothing
        raise InvalidInput("value", "must be at least {ge}", ge=MIN_MONTHS)
    if expected == "months" and data.value > MAX_MONTHS:
        raise InvalidInput("value", "must be at most {le}", le=MAX_MONTHS)
    existing = await session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.code == data.code,
            PolicyVersion.district_code == data.district_code,
            PolicyVersion.effective_on == data.effective_on,
        )
    )
    if existing is not None:
        raise Conflict(
            "{code_} for {district_code} already has a version effective on {effective_on} (id {existing_id}); "
            "versions are never rewritten: add one with another effective date",
            resource=resource_of(existing),
            code_=data.code,
            district_code=data.district_code,
            effective_on=data.effective_on.isoformat(),
            existing_id=existing.id,
        )
    version = PolicyVersion(**data.model_dump(), created_by=principal.subject, created_at=utcnow())
    session.add(version)
    await session.flush()
    return version
