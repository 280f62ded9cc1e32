"""Standard addresses: issuing stable codes, rendering the standard text, splits, merges, renamings.

A code comes from the `address` counter (`UPDATE ... RETURNING`), so it is unique without a retry loop and
never comes back: an address is retired, never deleted, and the counter only moves forward.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, cast, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames import geo
from services.placenames.addresses.models import Address, AddressLineage, CodeCounter
from services.placenames.addresses.schemas import (
    MAX_PART,
    AddressDetail,
    AddressIn,
    AddressOut,
    ChangeIn,
    LineageOut,
    MergeIn,
    PlateRef,
    SplitIn,
)
from services.placenames.changes.service import address_successor, record
from services.placenames.divisions.models import Division
from services.placenames.divisions.service import is_current
from services.placenames.names.models import PlaceName
from services.placenames.names.service import check_decided_on
from services.placenames.plates.models import DoorPlate, PlateAddress
from services.placenames.text import canonical_part
from shared import clock
from shared.db import one_or_404, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.geo import check_coordinates
from shared.identity import Principal
from shared.pagination import PageParams, keyset

ROAD_KINDS = ("road", "street", "lane", "bridge")
AREA_KINDS = ("residential_area", "building")
CITY = "宁波市"


# Where each series' numbers show in its codes: the counter is never below the highest number in use.
_NUMBER_IN_CODE = {"address": (Address.code, 7), "plate": (DoorPlate.code, 5)}


async def allocate(session: AsyncSession, series: str, count: int = 1) -> int:
    """Reserve `count` consecutive numbers of a series; returns the first.

    The counter row is locked until the transaction ends, so concurrent issuers queue on it and never get
    the same number. Should the row be missing (a wiped table), it is re-created above the highest number
    found in issued codes, so even then no code is issued twice.
    """
    for _ in range(2):
        result = await session.execute(
            update(CodeCounter)
            .where(CodeCounter.series == series)
            .values(next_value=CodeCounter.next_value + count)
            .returning(CodeCounter.next_value)
        )
        after = result.scalar_one_or_none()
        if after is not None:
            return after - count
        column, position = _NUMBER_IN_CODE[series]
        highest = await session.scalar(select(func.max(cast(func.substr(column, position), BigInteger))))
        try:
            async with session.begin_nested():
                session.add(CodeCounter(series=series, next_value=(highest or 0) + 1))
        except IntegrityError:
            pass  # another transaction re-created it first: take numbers from theirs
    raise Conflict("the {series} code counter is busy; retry", resource=f"code-counters/{series}", series=series)


def address_code(district_code: str, number: int) -> str:
    """16 digits: the district where it was first issued, then the series number (the number alone is unique)."""
    return f"{district_code}{number:010d}"


def match_key(
    road_id: int | None,
    house: str | None,
    area_id: int | None,
    building: str | None,
    unit: str | None,
    room: str | None,
) -> str:
    return "|".join("" if v is None else str(v) for v in (road_id, house, area_id, building, unit, room))


def render(
    district: str,
    road: str | None,
    house: str | None,
    area: str | None,
    building: str | None,
    unit: str | None,
    room: str | None,
    township: str | None = None,
) -> str:
    """宁波市鄞州区天童南路588号宁波文化广场3幢2单元501室; with no road, the township leads the area."""
    parts = [CITY, district]
    if road:
        parts.append(road)
        if house:
            parts.append(f"{house}号")
    elif township:
        parts.append(township)
    if area:
        parts.append(area)
    parts += [f"{building}幢" if building else "", f"{unit}单元" if unit else "", f"{room}室" if room else ""]
    return "".join(parts)


def level_of(building: str | None, unit: str | None, room: str | None) -> str:
    return "room" if room else "unit" if unit else "building" if building else "house"


async def _division(session: AsyncSession, code: str, field: str, level: str, inside: str) -> Division:
    division = await session.get(Division, code)
    if division is None or division.level != level or not is_current(division, clock.today()):
        raise InvalidInput(field, "{code_} is not a current {level}", code_=code, level=level)
    if not code.startswith(inside):
        raise InvalidInput(
            field,
            "{division_name} {code_} is not inside {inside}",
            division_name=division.name,
            code_=code,
            inside=inside,
        )
    return division


async def _standard_name(session: AsyncSession, name_id: int, field: str, kinds: tuple[str, ...]) -> PlaceName:
    name = await session.get(PlaceName, name_id)
    if name is None or name.status != "standard" or name.kind not in kinds:
        raise InvalidInput(
            field, "{name_id} is not a standard name of kind {kinds}", name_id=name_id, kinds=" or ".join(kinds)
        )
    return name


async def _names(session: AsyncSession, a: Address) -> tuple[str | None, str | None, str | None]:
    road = await session.get(PlaceName, a.road_id) if a.road_id else None
    area = await session.get(PlaceName, a.area_id) if a.area_id else None
    township = await session.get(Division, a.township_code) if a.township_code else None
    return (road.name if road else None, area.name if area else None, township.name if township else None)


async def _refresh_text(session: AsyncSession, a: Address) -> None:
    district = await session.get(Division, a.district_code)
    road, area, township = await _names(session, a)
    a.full_name = render(district.name, road, a.house_number, area, a.building, a.unit, a.room, township)
    a.search_key = a.full_name.removeprefix(CITY)
    a.match_key = match_key(a.road_id, a.house_number, a.area_id, a.building, a.unit, a.room)


async def _build(session: AsyncSession, principal: Principal, data: AddressIn) -> Address:
    if not principal.covers(data.district_code):
        raise Forbidden(
            "district {district_code} is outside your area {area}",
            district_code=data.district_code,
            area=principal.area,
        )
    await _division(session, data.district_code, "district_code", "district", data.district_code)
    if data.township_code:
        await _division(session, data.township_code, "township_code", "township", data.district_code)
    if data.community_code:
        await _division(
            session, data.community_code, "community_code", "village", data.township_code or data.district_code
        )
    if data.road_id is None and data.area_id is None:
        raise InvalidInput("road_id", "an address lies on a road or in a residential area: give road_id or area_id")
    if data.road_id is not None:
        await _standard_name(session, data.road_id, "road_id", ROAD_KINDS)
    if data.area_id is not None:
        await _standard_name(session, data.area_id, "area_id", AREA_KINDS)
    check_coordinates(data.latitude, data.longitude)
    house, building, unit, room = (canonical_part(v) for v in (data.house_number, data.building, data.unit, data.room))
    for field, value in (("house_number", house), ("building", building), ("unit", unit), ("room", room)):
        if value is not None and len(value) > MAX_PART:  # 十之 + 18 digits is 20 characters, 10-… is 21
            raise InvalidInput(field, "must have at most {max_length} characters", max_length=MAX_PART)
    if house and data.road_id is None:
        raise InvalidInput("house_number", "a house number (门牌号) is a number on a road: give road_id")
    address = Address(
        level=level_of(building, unit, room),
        status="current",
        district_code=data.district_code,
        township_code=data.township_code,
        community_code=data.community_code,
        road_id=data.road_id,
        area_id=data.area_id,
        house_number=house,
        building=building,
        unit=unit,
        room=room,
        latitude=data.latitude,
        longitude=data.longitude,
        created_at=utcnow(),
        **geo.cell_columns(data.latitude, data.longitude),
    )
    await _refresh_text(session, address)
    return address


async def _check_free(session: AsyncSession, addresses: list[Address]) -> None:
    keys = [a.match_key for a in addresses]
    if len(set(keys)) != len(keys):
        raise InvalidInput("into", "two of the new addresses are the same")
    taken = await session.scalar(select(Address).where(Address.match_key.in_(keys), Address.status == "current"))
    if taken is not None:
        raise Conflict(
            "{full_name} is already a current standard address",
            resource=f"addresses/{taken.code}",
            full_name=taken.full_name,
        )


async def _issue(session: AsyncSession, addresses: list[Address]) -> list[Address]:
    await _check_free(session, addresses)
    first = await allocate(session, "address", len(addresses))
    for offset, a in enumerate(addresses):
        a.code = address_code(a.district_code, first + offset)
    session.add_all(addresses)
    await session.flush()
    return addresses


async def issue(session: AsyncSession, principal: Principal, data: AddressIn) -> Address:
    [address] = await _issue(session, [await _build(session, principal, data)])
    record(session, "address.issued", address.code, [address_successor(address)])
    return address


async def get(session: AsyncSession, code: str) -> Address:
    return await one_or_404(
        session, select(Address).where(Address.code == code), "no standard address with code {code_}", code_=code
    )


async def detail(session: AsyncSession, code: str) -> AddressDetail:
    a = await get(session, code)
    rows = (
        await session.scalars(
            select(AddressLineage)
            .where(or_(AddressLineage.from_id == a.id, AddressLineage.to_id == a.id))
            .order_by(AddressLineage.id)
        )
    ).all()
    ids = {r.from_id for r in rows} | {r.to_id for r in rows if r.to_id}
    codes = (
        dict((await session.execute(select(Address.id, Address.code).where(Address.id.in_(ids)))).all()) if ids else {}
    )
    plates = (
        await session.scalars(
            select(DoorPlate)
            .join(PlateAddress, PlateAddress.plate_id == DoorPlate.id)
            .where(PlateAddress.address_id == a.id)
            .order_by(DoorPlate.id)
        )
    ).all()
    return AddressDetail(
        **AddressOut.model_validate(a).model_dump(),
        lineage=[
            LineageOut(
                kind=r.kind,
                from_code=codes[r.from_id],
                to_code=codes.get(r.to_id),
                old_full_name=r.old_full_name,
                decided_on=r.decided_on,
                note=r.note,
            )
            for r in rows
        ],
        plates=[PlateRef.model_validate(p) for p in plates],
    )


async def _retire(session: AsyncSession, principal: Principal, a: Address, on: dt.date) -> None:
    if not principal.covers(a.district_code):
        raise Forbidden(
            "{full_name} ({a_code}) is outside your area {area}",
            full_name=a.full_name,
            a_code=a.code,
            area=principal.area,
        )
    result = await session.execute(
        update(Address)
        .where(Address.id == a.id, Address.status == "current")
        .values(status="retired", retired_on=on)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "{full_name} ({a_code}) is already retired",
            resource=f"addresses/{a.code}",
            full_name=a.full_name,
            a_code=a.code,
        )
    await session.refresh(a)


def _lineage(kind: str, old: Address, new: Address | None, data: ChangeIn) -> AddressLineage:
    return AddressLineage(
        kind=kind,
        from_id=old.id,
        to_id=new.id if new else None,
        old_full_name=old.full_name,
        decided_on=data.decided_on,
        note=data.note,
        created_at=utcnow(),
    )


async def retire(session: AsyncSession, principal: Principal, code: str, data: ChangeIn) -> Address:
    check_decided_on(data.decided_on)
    a = await get(session, code)
    await _retire(session, principal, a, data.decided_on)
    session.add(_lineage("retire", a, None, data))
    await session.flush()
    record(session, "address.retired", a.code, [], previous_text=a.full_name, decided_on=data.decided_on)
    return a


async def _plates_follow(session: AsyncSession, olds: list[Address], new: list[Address]) -> None:
    """A door plate stays on its door when the addresses behind it are split or merged: the issued plates of
    the retired addresses now carry their successors instead (the lineage keeps the old ones)."""
    old_ids = [a.id for a in olds]
    plates = set(
        await session.scalars(
            select(PlateAddress.plate_id)
            .join(DoorPlate, DoorPlate.id == PlateAddress.plate_id)
            .where(PlateAddress.address_id.in_(old_ids), DoorPlate.status == "issued")
        )
    )
    if not plates:
        return
    carried = set(
        (
            await session.execute(
                select(PlateAddress.plate_id, PlateAddress.address_id).where(PlateAddress.plate_id.in_(plates))
            )
        ).all()
    )
    await session.execute(
        delete(PlateAddress).where(PlateAddress.plate_id.in_(plates), PlateAddress.address_id.in_(old_ids))
    )
    session.add_all(
        PlateAddress(plate_id=p, address_id=a.id) for p in sorted(plates) for a in new if (p, a.id) not in carried
    )
    await session.flush()


async def split(
    session: AsyncSession, principal: Principal, code: str, data: SplitIn
) -> tuple[list[str], list[Address]]:
    check_decided_on(data.decided_on)
    old = await get(session, code)
    await _retire(session, principal, old, data.decided_on)
    new = await _issue(session, [await _build(session, principal, part) for part in data.into])
    session.add_all(_lineage("split", old, n, data) for n in new)
    await _plates_follow(session, [old], new)
    await session.flush()
    record(
        session,
        "address.split",
        old.code,
        [address_successor(n) for n in new],
        previous_text=old.full_name,
        decided_on=data.decided_on,
    )
    return [old.code], new


async def merge(session: AsyncSession, principal: Principal, data: MergeIn) -> tuple[list[str], list[Address]]:
    check_decided_on(data.decided_on)
    if len(set(data.codes)) != len(data.codes):
        raise InvalidInput("codes", "a code is listed twice")
    olds = [await get(session, c) for c in data.codes]
    for old in olds:
        await _retire(session, principal, old, data.decided_on)
    [new] = await _issue(session, [await _build(session, principal, data.into)])
    session.add_all(_lineage("merge", old, new, data) for old in olds)
    await _plates_follow(session, olds, [new])
    await session.flush()
    for old in olds:
        record(
            session,
            "address.merged",
            old.code,
            [address_successor(new)],
            previous_text=old.full_name,
            decided_on=data.decided_on,
        )
    return data.codes, [new]


async def follow_renaming(session: AsyncSession, old_name_id: int, new_name_id: int, decided_on: dt.date) -> int:
    """Addresses on a renamed road or in a renamed area take the new name and keep their codes."""
    moved = (
        await session.scalars(
            select(Address)
            .where(Address.status == "current", or_(Address.road_id == old_name_id, Address.area_id == old_name_id))
            .order_by(Address.id)
        )
    ).all()
    change = ChangeIn(decided_on=decided_on, note="the road or area was renamed")
    for a in moved:
        session.add(_lineage("rename", a, a, change))
        previous_text = a.full_name
        a.road_id = new_name_id if a.road_id == old_name_id else a.road_id
        a.area_id = new_name_id if a.area_id == old_name_id else a.area_id
        await _refresh_text(session, a)
        record(
            session,
            "address.renamed",
            a.code,
            [address_successor(a)],
            previous_text=previous_text,
            decided_on=decided_on,
        )
    await session.flush()
    return len(moved)


async def list_page(
    session: AsyncSession, page: PageParams, *, district_code: str | None, road_id: int | None, include_retired: bool
) -> list[Address]:
    query = keyset(select(Address), Address.code, page, cast=str)
    if district_code:
        query = query.where(Address.district_code == district_code)
    if road_id:
        query = query.where(Address.road_id == road_id)
    if not include_retired:
        query = query.where(Address.status == "current")
    return list(await session.scalars(query))


def _area(a: Address) -> str:
    return a.community_code or a.township_code or a.district_code


async def follow_divisions(
    session: AsyncSession, successors: dict[str, str], renamed: set[str], divisions: dict[str, Division]
) -> int:
    """Addresses in divisions that ended take their successors' codes (a township moved to another district takes
    that district too); addresses in renamed divisions take the new name. Each keeps its code; the feed gets an
    `address.moved` (its division changed) or `address.renamed` (only its text did) for each one changed."""
    codes = set(successors) | renamed
    if not codes:
        return 0
    rows = (
        await session.scalars(
            select(Address).where(
                Address.status == "current",
                or_(
                    Address.district_code.in_(codes),
                    Address.township_code.in_(codes),
                    Address.community_code.in_(codes),
                ),
            )
        )
    ).all()

    def current(code: str | None) -> str | None:
        for _ in range(10):  # a chain of successors, never a cycle in checked data
            if code not in successors:
                break
            code = successors[code]
        return code

    for a in rows:
        previous_text, previous_area = a.full_name, _area(a)
        a.community_code, a.township_code = current(a.community_code), current(a.township_code)
        # The deepest division decides its parents: a township moved to 海曙区 takes the address to 海曙区.
        if a.community_code and a.community_code in divisions:
            a.township_code = divisions[a.community_code].parent_code or a.township_code
        if a.township_code and a.township_code in divisions:
            a.district_code = divisions[a.township_code].parent_code or a.district_code
        a.district_code = current(a.district_code) or a.district_code
        await _refresh_text(session, a)
        if (a.full_name, _area(a)) != (previous_text, previous_area):
            kind = "address.moved" if _area(a) != previous_area else "address.renamed"
            record(session, kind, a.code, [address_successor(a)], previous_text=previous_text)
    await session.flush()
    return len(rows)
