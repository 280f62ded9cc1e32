"""Rules about social organisations: registration, charity recognition, public-fundraising qualification."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from services.charity.organizations.models import Organization
from services.charity.organizations.schemas import FundraisingGrantIn, OrganizationIn, OrganizationOut
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import covers
from shared.db import get_or_404, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.identity import Principal
from shared.idnumbers import mask_phone
from shared.pagination import PageParams, keyset

CIVIL_AFFAIRS_AUTHORITY = "5"  # GB 32100 registering authority code of civil affairs (民政)
QUALIFYING_YEARS = 1  # 慈善法 (2023 amendment) art. 22: registered for at least one year


def to_out(org: Organization) -> OrganizationOut:
    """Computed: the qualification flag from its date, and the contact phone masked."""
    return OrganizationOut(
        id=org.id,
        name=org.name,
        unified_social_credit_code=org.unified_social_credit_code,
        registered_on=org.registered_on,
        district_code=org.district_code,
        **address_out(org),
        is_charity=org.is_charity,
        recognised_on=org.recognised_on,
        evaluation_grade=org.evaluation_grade,
        has_public_fundraising_qualification=org.fundraising_qualified_on is not None,
        fundraising_qualified_on=org.fundraising_qualified_on,
        contact_name=org.contact_name,
        contact_phone_masked=mask_phone(org.contact_phone),
        created_at=org.created_at,
    )


def parse_credit_code(raw: str, *, field: str = "unified_social_credit_code") -> str:
    """A valid 统一社会信用代码 of an organisation registered by civil affairs, compacted, or InvalidInput.

    stdnum checks the length, the alphabet (digits and capitals without I, O, Z, S, V), that the first 8
    characters are digits, and the mod-31 check character; it checks neither the registering authority nor
    the region. A social organisation is registered by civil affairs, so its code starts with 5.
    """
    try:
        code = uscc.validate(raw)
    except stdnum_errors.InvalidLength:
        raise InvalidInput(field, "must be 18 characters") from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidInput(field, "the check character does not match (GB 32100)") from None
    except stdnum_errors.ValidationError:
        raise InvalidInput(
            field, "only digits and capital letters except I, O, Z, S, V; the first 8 are digits"
        ) from None
    if code[0] != CIVIL_AFFAIRS_AUTHORITY:
        raise InvalidInput(field, "a social organisation's code starts with 5 (registered by civil affairs, 民政)")
    return code


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def register(
    session: AsyncSession, principal: Principal, data: OrganizationIn, address: AddressValues
) -> Organization:
    """`address`: the domicile as `shared.addresses.standardise_input` found it (the caller's area checked)."""
    if not principal.covers(data.district_code):
        raise Forbidden(
            "district {district_code} is outside your area {area}",
            district_code=data.district_code,
            area=principal.area,
        )
    if not covers(data.district_code, address.values["area_code"]):
        raise InvalidInput(
            "address",
            "the domicile lies in {area_code}, outside district {district_code}",
            area_code=address.values["area_code"],
            district_code=data.district_code,
        )
    code = parse_credit_code(data.unified_social_credit_code)
    today = clock.today()
    if data.registered_on > today:
        raise InvalidInput("registered_on", "cannot be in the future")
    if data.is_charity and data.recognised_on is None:
        raise InvalidInput("recognised_on", "a recognised charity needs the date of recognition")
    if not data.is_charity and data.recognised_on is not None:
        raise InvalidInput("recognised_on", "only given when is_charity is true")
    if data.recognised_on is not None and not data.registered_on <= data.recognised_on <= today:
        raise InvalidInput("recognised_on", "must be between the registration date and today")
    existing = await session.scalar(select(Organization.id).where(Organization.unified_social_credit_code == code))
    if existing is not None:
        raise Conflict(
            "an organisation with code {code_} is already registered", resource=f"organizations/{existing}", code_=code
        )
    org = Organization(
        **data.model_dump(exclude={"address", "address_code", "area_code", "unified_social_credit_code"}),
        **address.values,
        unified_social_credit_code=code,
        registered_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(org)
    await session.flush()
    return org


async def get(session: AsyncSession, org_id: int) -> Organization:
    org = await get_or_404(session, Organization, org_id, "no organisation {org_id}", org_id=org_id)
    return org


async def grant_fundraising(
    session: AsyncSession, principal: Principal, org_id: int, data: FundraisingGrantIn
) -> Organization:
    """公开募捐资格: only a recognised charity, registered at least one year before the grant date."""
    org = await get(session, org_id)
    if not principal.covers(org.district_code):
        raise Forbidden(
            "organisation {org_id} is registered in {district_code}, outside your area {area}",
            org_id=org_id,
            district_code=org.district_code,
            area=principal.area,
        )
    today = clock.today()
    granted_on = data.granted_on or today
    if granted_on > today:
        raise InvalidInput("granted_on", "cannot be in the future")
    resource = f"organizations/{org_id}"
    if org.fundraising_qualified_on is not None:
        raise Conflict(
            "the organisation already holds the qualification since {fundraising_qualified_on}",
            resource=resource,
            fundraising_qualified_on=org.fundraising_qualified_on.isoformat(),
        )
    if not org.is_charity or org.recognised_on is None or org.recognised_on > granted_on:
        raise Conflict(
            "only an organisation recognised as a charity (慈善组织) on the grant date may hold the "
            "public-fundraising qualification",
            resource=resource,
        )
    if org.registered_on > years_before(granted_on, QUALIFYING_YEARS):
        raise Conflict(
            "registered on {registered_on}: a charity must have been registered for at least {qualifying_years} "
            "year before the grant date {granted_on}",
            resource=resource,
            registered_on=org.registered_on.isoformat(),
            qualifying_years=QUALIFYING_YEARS,
            granted_on=granted_on.isoformat(),
        )
    # Conditional update: of two concurrent grants, exactly one changes the row.
    granted = await session.execute(
        update(Organization)
        .where(Organization.id == org_id, Organization.fundraising_qualified_on.is_(None))
        .values(fundraising_qualified_on=granted_on)
        .execution_options(synchronize_session=False)
    )
    if granted.rowcount != 1:
        raise Conflict("the organisation was granted the qualification meanwhile", resource=resource)
    await session.refresh(org)
    return org


async def list_page(
    session: AsyncSession,
    page: PageParams,
    *,
    district: str | None,
    is_charity: bool | None,
    qualified: bool | None,
    address_status: str | None = None,
) -> list[Organization]:
    query = keyset(select(Organization), Organization.id, page)
    if address_status:
        query = query.where(Organization.address_status == address_status)
    if district:
        query = query.where(Organization.district_code == district)
    if is_charity is not None:
        query = query.where(Organization.is_charity == is_charity)
    if qualified is not None:
        column = Organization.fundraising_qualified_on
        query = query.where(column.is_not(None) if qualified else column.is_(None))
    return list(await session.scalars(query))
