"""Search as you type, geocoding and reverse geocoding.

Typing a name: in-memory suggestions (prefix, pinyin initials, one-character typo). Once a road or area is
typed in full: its standard addresses from the database, through the road's index, filtered by what is
typed of the number, in index order. Reverse geocoding looks up the geohash cells of one precision that
cover the circle's bounding box (indexed equality), lets the database send the nearest few by a flat-earth
distance, then measures them exactly and keeps what lies within the radius, nearest first.
"""

from __future__ import annotations

import math

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames import geo
from services.placenames.addresses.models import Address
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing.parser import AREA, ROAD, parse
from services.placenames.parsing.service import match, name_refs
from services.placenames.search.schemas import GeocodeOut, NearbyAddress, ReverseOut, SearchItem, SearchOut
from services.placenames.text import to_halfwidth

LEVEL_RANK = {"house": 0, "building": 1, "unit": 2, "room": 3}


async def _addresses_on(session: AsyncSession, parsed, limit: int) -> list[SearchItem]:
    road, area = parsed.parts.get(ROAD), parsed.parts.get(AREA)
    road_ids, area_ids = name_refs(road, parsed.district_code), name_refs(area, parsed.district_code)
    if not road_ids and not area_ids:
        return []
    house = parsed.parts.get("house_number")
    number = house.value if house is not None else None
    if "lane" in parsed.parts:  # the registry numbers a house in a lane as 500弄3 (parsing/service.py)
        number = f"{parsed.parts['lane'].value}弄{number or ''}"
    # Houses before their rooms, short numbers before long ones: 5号 before 51号 before 512号. One query per
    # road (or area): each walks its own index (ix_addresses_road_order, ix_addresses_area_order) in that
    # order and stops after `limit` rows, instead of sorting every address on the road (3,700 per road
    # at 1,000,000 addresses); a name shared by several districts' roads (人民路) is merged here.
    found: list[Address] = []
    for column, ids in ((Address.road_id, road_ids), (Address.area_id, area_ids if not road_ids else [])):
        for ref in ids:
            query = select(Address).where(Address.status == "current", column == ref)
            if number is not None:
                query = query.where(Address.house_number.startswith(number, autoescape=True))
            for field in ("building", "unit"):
                if field in parsed.parts:
                    query = query.where(getattr(Address, field) == parsed.parts[field].value)
            if "room" in parsed.parts:
                query = query.where(Address.room.startswith(parsed.parts["room"].value, autoescape=True))
            query = query.order_by(func.length(Address.match_key), Address.match_key).limit(limit)
            found += (await session.scalars(query)).all()
    # Across roads, the same order without the road's id (the key's first field): 3号 of each before 7号.
    found.sort(key=lambda a: (len(tail := a.match_key.partition("|")[2]), tail, a.match_key))
    items = []
    for a in found[:limit]:
        exact = number is None or a.house_number == number
        score = (1.0 if exact else 0.9) - 0.02 * LEVEL_RANK[a.level]
        items.append(
            SearchItem(
                kind="address",
                text=a.full_name,
                standard_name=a.full_name,
                ref=a.code,
                district_code=a.district_code,
                match="exact" if exact else "prefix",
                score=round(score, 3),
            )
        )
    items.sort(key=lambda i: -i.score)
    return items


async def search(session: AsyncSession, gazetteer: Gazetteer, q: str, limit: int) -> SearchOut:
    text = "".join(to_halfwidth(q).split())
    parsed = parse(gazetteer.dictionary, text)
    items: list[SearchItem] = []
    if ROAD in parsed.parts or AREA in parsed.parts:
        items = await _addresses_on(session, parsed, limit)
    if not items:
        last_end = max((p.end for p in parsed.parts.values()), default=0)
        fragment = text[last_end:] or text
        district = parsed.district_code if fragment != text else None
        for s in gazetteer.name_index.suggest(fragment, district=district, limit=limit):
            e = s.entry
            items.append(
                SearchItem(
                    kind=e.kind,
                    text=s.spelling,
                    standard_name=e.standard_name,
                    ref=e.standard_ref,
                    district_code=e.district,
                    match=s.match,
                    score=s.score,
                )
            )
    return SearchOut(query=q, items=items[:limit])


async def geocode(session: AsyncSession, gazetteer: Gazetteer, q: str) -> GeocodeOut:
    result = await match(session, parse(gazetteer.dictionary, q), gazetteer.road_speller)
    out = dict(
        query=q,
        match=result.match,
        candidates=result.candidates,
        confidence=result.confidence,
        reasons=list(result.reasons),
    )
    if result.match is None:
        return GeocodeOut(**out, latitude=None, longitude=None, coordinate_level=None)
    address = await session.scalar(select(Address).where(Address.code == result.match.code))
    source = address
    if address.latitude is None:
        # A room or building without its own point takes its house's (same road and number).
        source = (
            await session.scalar(
                select(Address)
                .where(
                    Address.status == "current",
                    Address.road_id == address.road_id,
                    Address.area_id == address.area_id,
                    Address.house_number == address.house_number,
                    Address.latitude.is_not(None),
                )
                .order_by(func.length(Address.match_key))
                .limit(1)
            )
            if address.road_id or address.area_id
            else None
        )
        if source is not None:
            out["reasons"].append(f"coordinates of {source.full_name}")
    if source is None or source.latitude is None:
        out["reasons"].append("the standard address has no coordinates yet")
        return GeocodeOut(**out, latitude=None, longitude=None, coordinate_level=None)
    return GeocodeOut(**out, latitude=source.latitude, longitude=source.longitude, coordinate_level=source.level)


async def reverse(
    session: AsyncSession, lat: float, lon: float, radius_m: float, limit: int, level: str | None
) -> ReverseOut:
    cells = geo.cells_covering(lat, lon, radius_m)
    column = getattr(Address, f"cell{len(cells[0])}")
    # The cells (indexed equality) cover the circle's bounding box; the box itself, checked on the rows the
    # cells found, keeps only those near enough to matter.
    south, west, north, east = geo.bounding_box(lat, lon, radius_m)
    wraps = west > east
    query = select(Address.code, Address.full_name, Address.level, Address.latitude, Address.longitude).where(
        column.in_(cells),
        Address.status == "current",
        Address.latitude.between(south, north),
        or_(Address.longitude >= west, Address.longitude <= east) if wraps else Address.longitude.between(west, east),
    )
    if level is not None:
        query = query.where(Address.level == level)
    if wraps:
        return _nearest(lat, lon, radius_m, limit, await session.execute(query.limit(20_000)))
    # The database sorts by a flat-earth distance (plain arithmetic, the same on both backends) and sends
    # the nearest few; they are then measured exactly. Should the rows sent stop too near to be sure that
    # nothing unsent is nearer than what is kept, everything in the box is measured instead.
    scale = math.cos(math.radians(lat))
    dy, dx = Address.latitude - lat, (Address.longitude - lon) * scale
    fetch = limit * 4 + 20
    rows = (await session.execute(query.order_by(dy * dy + dx * dx).limit(fetch))).all()
    out = _nearest(lat, lon, radius_m, limit, rows)
    if len(rows) == fetch:
        last = rows[-1]
        last_m = math.hypot(last.latitude - lat, (last.longitude - lon) * scale) * 111_195
        needed = out.items[-1].distance_m if len(out.items) == limit else radius_m
        if last_m <= needed * 1.01 + 1:
            out = _nearest(lat, lon, radius_m, limit, await session.execute(query.limit(20_000)))
    return out


def _nearest(lat: float, lon: float, radius_m: float, limit: int, rows) -> ReverseOut:
    nearby = []
    for row in rows:
        d = geo.distance_m(lat, lon, row.latitude, row.longitude)
        if d <= radius_m:
            nearby.append((round(d, 1), LEVEL_RANK[row.level], row.code, row))
    nearby.sort(key=lambda t: t[:3])
    return ReverseOut(
        latitude=lat,
        longitude=lon,
        radius_m=radius_m,
        items=[
            NearbyAddress(
                code=row.code,
                full_name=row.full_name,
                level=row.level,
                latitude=row.latitude,
                longitude=row.longitude,
                distance_m=d,
            )
            for d, _, _, row in nearby[:limit]
        ],
    )
