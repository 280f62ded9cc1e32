"""Ningbo's administrative divisions and place names, and the demo city's standard addresses. Loading twice adds
nothing (keyed by code / name).

The divisions come from `shared/data/divisions.csv` (built by `scripts/build_divisions.py`, sources in
`shared/data/DIVISIONS.md`), the one tree the other services and the gateway read through `shared.divisions`.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames import geo
from services.placenames.addresses.models import Address, CodeCounter
from services.placenames.addresses.service import CITY, level_of, match_key, render
from services.placenames.divisions.models import Division, DivisionFormerName
from services.placenames.divisions.service import Was, record_changes
from services.placenames.names.models import PlaceName
from shared.db import utcnow
from shared.demo_city import demo_addresses
from shared.divisions import DIVISIONS_CSV, FORMER_NAMES_CSV

log = logging.getLogger("placenames.seed")

CSV_PATH = DIVISIONS_CSV
NAMES_PATH = Path(__file__).parent / "data" / "names.csv"
FORMER_NAMES_PATH = FORMER_NAMES_CSV
NAME_COLUMNS = ["name", "kind", "district_code", "status", "standard_name", "illustrative", "note"]
COLUMNS = ["code", "name", "level", "parent_code", "valid_from", "valid_to", "successor_code", "source", "note"]


def _csv_rows(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path}: expected columns {','.join(COLUMNS)}, got {reader.fieldnames}")
        for line, raw in enumerate(reader, start=2):
            if not raw["code"]:
                # A division no source gives a code for (see DIVISIONS.md): it cannot be keyed, so it waits. Known
                # and documented, so not a warning on every load.
                log.info("%s line %d: %s has no code; skipped", path.name, line, raw["name"])
                continue
            row: dict = {k: (v or None) for k, v in raw.items()}
            for key in ("valid_from", "valid_to"):
                row[key] = dt.date.fromisoformat(row[key]) if row[key] else None
            rows.append(row)
    return rows


def source_rows(path: Path = CSV_PATH) -> list[dict]:
    """The rows to load, with every parent and successor reference checked (the city's parent excepted)."""
    rows = _csv_rows(path)
    codes = {r["code"] for r in rows}
    for row in rows:
        if row.get("parent_code") and row["parent_code"] not in codes and row["level"] != "city":
            raise ValueError(f"division {row['code']}: parent {row['parent_code']} is not in the list")
        if row.get("successor_code") and row["successor_code"] not in codes:
            raise ValueError(f"division {row['code']}: successor {row['successor_code']} is not in the list")
    return rows


def name_rows(path: Path = NAMES_PATH) -> list[dict]:
    """Real Ningbo road, street, lane and bridge names (see data/NAMES.md), and a few illustrative rows."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != NAME_COLUMNS:
            raise ValueError(f"{path}: expected columns {','.join(NAME_COLUMNS)}, got {reader.fieldnames}")
        rows = [dict(r, illustrative=r["illustrative"] == "true", note=r["note"] or None) for r in reader]
    standard = {(r["name"], r["district_code"]) for r in rows}
    for r in rows:
        if r["status"] != "standard" and (r["standard_name"], r["district_code"]) not in standard:
            raise ValueError(f"name {r['name']}: {r['standard_name']} is not in the list for {r['district_code']}")
    return rows


async def load_names(session: AsyncSession, path: Path = NAMES_PATH, *, illustrative: bool = True) -> int:
    """Standard names first, then aliases and historical names pointing at them (in file order, so a chain's
    later links come first in the file). Without `illustrative`, only the real names (production)."""
    rows = name_rows(path)
    if not illustrative:
        real_standard = {
            (r["name"], r["district_code"]) for r in rows if r["status"] == "standard" and not r["illustrative"]
        }
        rows = [
            r
            for r in rows
            if not r["illustrative"]
            and (r["status"] == "standard" or (r["standard_name"], r["district_code"]) in real_standard)
        ]
    existing = {(n.name, n.district_code, n.kind): n for n in await session.scalars(select(PlaceName))}
    created = 0
    standard = [
        PlaceName(
            name=r["name"],
            kind=r["kind"],
            status="standard",
            district_code=r["district_code"],
            illustrative=r["illustrative"],
            note=r["note"],
            created_at=utcnow(),
        )
        for r in rows
        if r["status"] == "standard" and (r["name"], r["district_code"], r["kind"]) not in existing
    ]
    session.add_all(standard)
    await session.flush()  # one batched INSERT
    existing |= {(n.name, n.district_code, n.kind): n for n in standard}
    created += len(standard)
    for status_pass in (("alias", "historical"),):
        for r in rows:
            key = (r["name"], r["district_code"], r["kind"])
            if r["status"] not in status_pass or key in existing:
                continue
            target = None
            if r["standard_name"]:
                target = next(
                    n
                    for (name, district, _), n in existing.items()
                    if name == r["standard_name"] and district == r["district_code"]
                )
            row = PlaceName(
                name=r["name"],
                kind=r["kind"],
                status=r["status"],
                district_code=r["district_code"],
                replaced_by_id=target.id if target else None,
                illustrative=r["illustrative"],
                note=r["note"],
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            existing[key] = row
            created += 1
    return created


async def load_reference(session: AsyncSession) -> int:
    """What production's register starts from and follows, with every migration (`manage migrate placenames`):
    the division tree with its history and the real standard names, none of the illustrative rows."""
    return await load(session, illustrative=False)


async def load(session: AsyncSession, path: Path = CSV_PATH, *, illustrative: bool = True) -> int:
    """Adds the divisions not yet in the register, and brings rows already there up to the file (a rebuilt
    file may date or annotate a division it already had: the 2016 townships' valid_from, say). Returns how
    many rows were added."""
    rows = source_rows(path)
    existing = set(await session.scalars(select(Division.code)))
    new = [row for row in rows if row["code"] not in existing]
    if new:
        # Core executemany: thousands of rows in one statement batch, not one ORM object each.
        await session.execute(insert(Division), [{c: row.get(c) for c in COLUMNS} for row in new])
    if existing:
        stored = {d.code: d for d in await session.scalars(select(Division))}
        before: dict[str, Was] = {}
        for row in rows:
            division = stored.get(row["code"])
            if division is not None:
                was = Was(division.name, division.valid_to is None)
                for column in COLUMNS[1:]:
                    if getattr(division, column) != row.get(column):
                        setattr(division, column, row.get(column))
                        before[division.code] = was
        await session.flush()
        # A data file that renames, merges, moves or retires a division: the change feed says so, and the
        # standard addresses in it follow (services/placenames/divisions/service.py).
        await record_changes(session, before, stored)
    # The demo city's addresses are demo data: never in production's register (load_reference).
    former = await load_former_names(session, {r["code"] for r in rows})
    names = await load_names(session, illustrative=illustrative)
    return len(new) + former + names + (await load_demo_addresses(session) if illustrative else 0)


async def load_demo_addresses(session: AsyncSession) -> int:
    """The demo city's standard addresses (shared/data/demo_addresses.csv, `shared.demo_city`), under the codes
    the other services' demo data give them; the address counter is moved past their numbers. A row whose text
    is not this registry's rendering of its parts, whose road is not a standard road of its district, or whose
    code or parts the registry already gave another address, stops the load: the demo city must be the
    registry's, or the other services' demo data would point at addresses it does not have."""
    roads = {
        (n.name, n.district_code): n
        for n in await session.scalars(select(PlaceName).where(PlaceName.status == "standard"))
    }
    districts = {d.code: d.name for d in await session.scalars(select(Division).where(Division.level == "district"))}
    known = set(await session.scalars(select(Division.code)))
    created = highest = 0
    for place in demo_addresses().values():
        divisions = [c for c in (place.district_code, place.township_code, place.community_code) if c]
        if not known.issuperset(divisions):
            # A trimmed division list (tests) may lack it, as with the former names.
            log.warning("demo address %s: a division of it is not in the register; skipped", place.full_name)
            continue
        if not all(code.startswith(place.district_code) for code in divisions):
            raise ValueError(f"{place.full_name}: {divisions} are not one district's divisions")
        road = roads.get((place.road, place.district_code))
        if road is None:
            raise ValueError(f"{place.full_name}: {place.road} is not a standard road of {place.district_code}")
        parts = (place.house_number, None, place.building, place.unit, place.room)
        if render(districts[place.district_code], place.road, *parts) != place.full_name:
            raise ValueError(f"{place.full_name}: not the registry's text of its parts")
        highest = max(highest, int(place.code[6:]))
        key = match_key(road.id, *parts)
        found = await session.scalar(select(Address).where(Address.code == place.code))
        numbers = (place.house_number, place.building, place.unit, place.room)
        if found is not None and (found.house_number, found.building, found.unit, found.room) == numbers:
            continue  # loaded before (the registry may have renamed its road or retired it since, as registries do)
        taken = found or await session.scalar(
            select(Address).where(Address.match_key == key, Address.status == "current")
        )
        if taken is not None:
            raise ValueError(
                f"the registry already has {taken.code} {taken.full_name}, where the demo city puts "
                f"{place.code}: load the demo data into a new placenames database"
            )
        session.add(
            Address(
                code=place.code,
                level=level_of(place.building, place.unit, place.room),
                status="current",
                district_code=place.district_code,
                township_code=place.township_code,
                community_code=place.community_code,
                road_id=road.id,
                area_id=None,
                house_number=place.house_number,
                building=place.building,
                unit=place.unit,
                room=place.room,
                match_key=key,
                full_name=place.full_name,
                search_key=place.full_name.removeprefix(CITY),
                latitude=place.latitude,
                longitude=place.longitude,
                created_at=utcnow(),
                **geo.cell_columns(place.latitude, place.longitude),
            )
        )
        created += 1
    await session.flush()
    counter = await session.get(CodeCounter, "address")
    if counter is None:
        session.add(CodeCounter(series="address", next_value=highest + 1))
    elif counter.next_value <= highest:
        counter.next_value = highest + 1
    await session.flush()
    return created


async def load_former_names(session: AsyncSession, codes: set[str], path: Path = FORMER_NAMES_PATH) -> int:
    """Former names of divisions (shared/data/division_former_names.csv), each under a code of the register."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(f)]
    existing = {(n.code, n.name) for n in await session.scalars(select(DivisionFormerName))}
    new = []
    for row in rows:
        if row["code"] not in codes:  # a trimmed division list (tests) may lack it
            log.warning(
                "%s: %s names division %s, which is not in the register; skipped", path.name, row["name"], row["code"]
            )
            continue
        if (row["code"], row["name"]) not in existing:
            new.append(
                DivisionFormerName(
                    code=row["code"],
                    name=row["name"],
                    source=row["source"],
                    note=row["note"],
                    valid_to=dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                )
            )
    session.add_all(new)
    await session.flush()
    return len(new)
