"""Synthetic standard addresses on the real roads of the demo data, for scale tests and benchmarks.

    python -m services.placenames.generate N [--seed S]

Loads the demo data if missing, then issues N addresses: along each real road, house numbers about 15 m
apart from a point near its district's centre (the points are synthetic, not surveyed), and behind each
house some buildings with units and rooms. Codes come from the same forward-only counter as the API's,
taken a block at a time; rows go in by blocks committed as they go: PostgreSQL's COPY (asyncpg's binary
`copy_records_to_table`, 20,000 rows a block), SQLite's bulk INSERT (5,000 a block). Running it again adds N
more (house numbers continue after those already on each road).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time

from sqlalchemy import func, insert, select

from services.placenames import geo, seed
from services.placenames.addresses.models import Address
from services.placenames.addresses.service import CITY, address_code, allocate, level_of, match_key, render
from services.placenames.divisions.models import Division
from services.placenames.names.models import PlaceName
from services.placenames.settings import PlacenamesSettings
from shared.db import Database, utcnow
from shared.divisions import division_code

# Approximate centres of the districts' built-up areas (WGS-84), to spread synthetic points plausibly.
CENTRES = {
    division_code(name): centre
    for name, centre in {
        "海曙区": (29.870, 121.540),
        "江北区": (29.900, 121.545),
        "北仑区": (29.900, 121.845),
        "镇海区": (29.950, 121.715),
        "鄞州区": (29.820, 121.560),
        "奉化区": (29.660, 121.410),
        "象山县": (29.480, 121.870),
        "宁海县": (29.290, 121.430),
        "余姚市": (30.040, 121.155),
        "慈溪市": (30.170, 121.265),
    }.items()
}
ROAD_KINDS = ("road", "street")  # the names addresses are generated on
PER_HOUSE = (1, 2, 2, 6)  # per house number: the house, 2 buildings × 2 units × 6 rooms = 1 + 2 + 4 + 24 rows
CHUNK = {"sqlite": 5000, "postgresql": 20_000}
COLUMNS = (
    "code",
    "level",
    "status",
    "district_code",
    "township_code",
    "community_code",
    "road_id",
    "area_id",
    "house_number",
    "building",
    "unit",
    "room",
    "match_key",
    "full_name",
    "search_key",
    "latitude",
    "longitude",
    "geohash",
    "cell5",
    "cell6",
    "cell7",
    "created_at",
)


async def _copy(session, rows: list[dict]) -> None:
    """PostgreSQL's COPY of the rows, inside the session's transaction (the counter's lock is held)."""
    connection = await (await session.connection()).get_raw_connection()
    await connection.driver_connection.copy_records_to_table(
        Address.__tablename__, columns=COLUMNS, records=[tuple(r[c] for c in COLUMNS) for r in rows]
    )


def _rows_for_house(road: PlaceName, district: str, number: int, lat: float, lon: float):
    yield dict(house_number=str(number), building=None, unit=None, room=None, latitude=lat, longitude=lon)
    for b in range(1, PER_HOUSE[1] + 1):
        blat, blon = lat + 0.00008 * b, lon + 0.00005 * b
        yield dict(house_number=str(number), building=str(b), unit=None, room=None, latitude=blat, longitude=blon)
        for u in range(1, PER_HOUSE[2] + 1):
            yield dict(house_number=str(number), building=str(b), unit=str(u), room=None, latitude=None, longitude=None)
            for floor in range(1, PER_HOUSE[3] // 2 + 1):
                for door in (1, 2):
                    yield dict(
                        house_number=str(number),
                        building=str(b),
                        unit=str(u),
                        room=f"{floor}0{door}",
                        latitude=None,
                        longitude=None,
                    )


async def generate(database: Database, count: int, seed_value: int = 1) -> int:
    rng = random.Random(seed_value)
    async with database.sessionmaker() as session:
        await seed.load(session)
        await session.commit()
        roads = list(
            await session.scalars(
                select(PlaceName)
                .where(PlaceName.status == "standard", PlaceName.kind.in_(ROAD_KINDS))
                .order_by(PlaceName.id)
            )
        )
        districts = {
            d.code: d.name for d in await session.scalars(select(Division).where(Division.level == "district"))
        }
        used = dict(
            (
                await session.execute(
                    select(Address.road_id, func.count()).where(Address.level == "house").group_by(Address.road_id)
                )
            ).all()
        )
    per_road = math.ceil(count / len(roads))
    created, started = 0, time.perf_counter()
    batch: list[dict] = []

    async def flush() -> None:
        nonlocal batch
        if not batch:
            return
        async with database.sessionmaker() as session:
            first = await allocate(session, "address", len(batch))
            for offset, row in enumerate(batch):
                row["code"] = address_code(row["district_code"], first + offset)
            if database.dialect == "postgresql":
                await _copy(session, batch)
            else:
                await session.execute(insert(Address), batch)
            await session.commit()
        batch = []

    for road in roads:
        district = road.district_code
        lat0, lon0 = CENTRES.get(district, (29.87, 121.55))
        lat0 += rng.uniform(-0.03, 0.03)
        lon0 += rng.uniform(-0.03, 0.03)
        bearing = rng.uniform(0, math.pi)
        number = used.get(road.id, 0) * 2 + 1  # odd numbers on one side; continue after earlier runs
        made_here = 0
        while made_here < per_road and created < count:
            step = (number // 2) * 15 / 111_320
            lat, lon = lat0 + step * math.cos(bearing), lon0 + step * math.sin(bearing)
            for parts in _rows_for_house(road, district, number, lat, lon):
                if made_here >= per_road or created >= count:
                    break
                full = render(
                    districts[district],
                    road.name,
                    parts["house_number"],
                    None,
                    parts["building"],
                    parts["unit"],
                    parts["room"],
                )
                batch.append(
                    dict(
                        level=level_of(parts["building"], parts["unit"], parts["room"]),
                        status="current",
                        district_code=district,
                        road_id=road.id,
                        area_id=None,
                        township_code=None,
                        community_code=None,
                        house_number=parts["house_number"],
                        building=parts["building"],
                        unit=parts["unit"],
                        room=parts["room"],
                        full_name=full,
                        search_key=full.removeprefix(CITY),
                        match_key=match_key(
                            road.id, parts["house_number"], None, parts["building"], parts["unit"], parts["room"]
                        ),
                        latitude=parts["latitude"],
                        longitude=parts["longitude"],
                        created_at=utcnow(),
                        **geo.cell_columns(parts["latitude"], parts["longitude"]),
                    )
                )
                made_here += 1
                created += 1
                if len(batch) >= CHUNK[database.dialect]:
                    await flush()
            number += 2
        if created >= count:
            break
    await flush()
    elapsed = time.perf_counter() - started
    print(
        f"placenames: {created:,} synthetic standard addresses on {len(roads)} real roads "
        f"in {elapsed:.1f} s ({created / max(elapsed, 1e-9):,.0f}/s)"
    )
    return created


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.placenames.generate", description=__doc__.split("\n")[0])
    # `./dev seed placenames --addresses N` passes the flag; `python -m ... N` works as well.
    parser.add_argument("count", type=int, nargs="?", help="how many addresses to add")
    parser.add_argument("--addresses", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.count = args.addresses or args.count
    if not args.count or args.count < 1:
        parser.error("how many addresses? (--addresses N)")

    async def run() -> None:
        database = Database(PlacenamesSettings().database_url)
        try:
            await generate(database, args.count, args.seed)
        finally:
            await database.dispose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
