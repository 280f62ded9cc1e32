"""Door plates (门牌) and their QR codes (数字门牌): issue, resolve, replace, revoke.

A plate carries one or more addresses and an address may carry several plates (plate_addresses). Status
changes are conditional updates on `status = 'issued'`, so a plate is replaced or revoked once.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.addresses.models import Address
from services.placenames.addresses.schemas import AddressOut
from services.placenames.addresses.service import allocate
from services.placenames.changes.service import record, successor
from services.placenames.names.models import PlaceName
from services.placenames.names.service import check_decided_on
from services.placenames.plates.models import DoorPlate, PlateAddress
from services.placenames.plates.schemas import PlateIn, PlateOut, ReplaceIn, RevokeIn
from shared.db import one_or_404, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.identity import Principal


def plate_code(number: int) -> str:
    return f"NBMP{number:08d}"


async def _get(session: AsyncSession, code: str) -> DoorPlate:
    return await one_or_404(
        session, select(DoorPlate).where(DoorPlate.code == code), "no door plate with code {code_}", code_=code
    )


async def _addresses(session: AsyncSession, plate_id: int) -> list[Address]:
    return list(
        await session.scalars(
            select(Address)
            .join(PlateAddress, PlateAddress.address_id == Address.id)
            .where(PlateAddress.plate_id == plate_id)
            .order_by(Address.code)
        )
    )


async def out(session: AsyncSession, plate: DoorPlate) -> PlateOut:
    """Not 1:1: the successor's code and the addresses the plate carries, read apart."""
    replaced_by = (
        await session.scalar(select(DoorPlate.code).where(DoorPlate.id == plate.replaced_by_id))
        if plate.replaced_by_id
        else None
    )
    return PlateOut(
        code=plate.code,
        plate_text=plate.plate_text,
        status=plate.status,
        issued_on=plate.issued_on,
        ended_on=plate.ended_on,
        replaced_by=replaced_by,
        what_is_there=plate.what_is_there,
        addresses=[AddressOut.model_validate(a) for a in await _addresses(session, plate.id)],
    )


async def _default_text(session: AsyncSession, address: Address) -> str:
    name_id = address.road_id or address.area_id
    name = await session.get(PlaceName, name_id)
    return f"{name.name}{address.house_number}号" if address.road_id and address.house_number else name.name


async def _new_plate(
    session: AsyncSession, addresses: list[Address], text: str | None, what: str | None, issued_on
) -> DoorPlate:
    plate = DoorPlate(
        code=plate_code(await allocate(session, "plate")),
        status="issued",
        issued_on=issued_on,
        plate_text=text or await _default_text(session, addresses[0]),
        what_is_there=what,
        created_at=utcnow(),
    )
    session.add(plate)
    await session.flush()
    session.add_all(PlateAddress(plate_id=plate.id, address_id=a.id) for a in addresses)
    await session.flush()
    return plate


async def issue(session: AsyncSession, principal: Principal, data: PlateIn) -> DoorPlate:
    check_decided_on(data.issued_on, "issued_on")
    if len(set(data.address_codes)) != len(data.address_codes):
        raise InvalidInput("address_codes", "an address is listed twice")
    addresses = list(await session.scalars(select(Address).where(Address.code.in_(data.address_codes))))
    found = {a.code: a for a in addresses}
    for index, code in enumerate(data.address_codes):
        if code not in found or found[code].status != "current":
            raise InvalidInput(f"address_codes.{index}", "{code_} is not a current standard address", code_=code)
        if not principal.covers(found[code].district_code):
            raise Forbidden("{code_} is outside your area {area}", code_=code, area=principal.area)
    plate = await _new_plate(
        session, [found[c] for c in data.address_codes], data.plate_text, data.what_is_there, data.issued_on
    )
    record(
        session, "plate.issued", plate.code, [successor(plate.code, plate.plate_text, None)], decided_on=plate.issued_on
    )
    return plate


async def _leave_issued(session: AsyncSession, principal: Principal, plate: DoorPlate, **values) -> None:
    if values["ended_on"] < plate.issued_on:
        raise InvalidInput(
            "issued_on" if "replaced_by_id" in values else "revoked_on",
            "cannot be before the plate was issued ({issued_on})",
            issued_on=plate.issued_on,
        )
    addresses = await _addresses(session, plate.id)
    if not all(principal.covers(a.district_code) for a in addresses):
        raise Forbidden(
            "plate {plate_code} carries addresses outside your area {area}", plate_code=plate.code, area=principal.area
        )
    result = await session.execute(
        update(DoorPlate)
        .where(DoorPlate.id == plate.id, DoorPlate.status == "issued")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "plate {plate_code} is already {plate_status}",
            resource=f"door-plates/{plate.code}",
            plate_code=plate.code,
            plate_status=plate.status,
        )
    await session.refresh(plate)


async def replace(session: AsyncSession, principal: Principal, code: str, data: ReplaceIn) -> DoorPlate:
    check_decided_on(data.issued_on, "issued_on")
    old = await _get(session, code)
    if old.status != "issued":
        raise Conflict(
            "plate {code_} is already {old_status}", resource=f"door-plates/{code}", code_=code, old_status=old.status
        )
    new = await _new_plate(
        session, await _addresses(session, old.id), data.plate_text or old.plate_text, old.what_is_there, data.issued_on
    )
    await _leave_issued(session, principal, old, status="replaced", replaced_by_id=new.id, ended_on=data.issued_on)
    record(
        session,
        "plate.replaced",
        old.code,
        [successor(new.code, new.plate_text, None)],
        previous_text=old.plate_text,
        decided_on=data.issued_on,
    )
    return new


async def revoke(session: AsyncSession, principal: Principal, code: str, data: RevokeIn) -> DoorPlate:
    check_decided_on(data.revoked_on, "revoked_on")
    plate = await _get(session, code)
    await _leave_issued(session, principal, plate, status="revoked", ended_on=data.revoked_on)
    record(session, "plate.revoked", plate.code, [], previous_text=plate.plate_text, decided_on=data.revoked_on)
    return plate


async def resolve(session: AsyncSession, code: str) -> DoorPlate:
    return await _get(session, code)
