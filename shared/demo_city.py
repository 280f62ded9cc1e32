"""The demo city's standard addresses: where every service's demo people and places are.

`shared/data/demo_addresses.csv` lists the standard addresses of the demo city: their codes, texts, divisions and
points. placenames loads them into its registry with its demo data (`services/placenames/seed.py`, which refuses
a row whose text is not the registry's own rendering of its parts, or whose road is not a standard road of its
district), and the other services' demo data take their addresses from the same rows, here, so an elder, a
household, a canteen or a charity sits at an address the registry knows, under the code it knows it by.

The larger synthetic city (`./dev seed city`, tools/data/city_generate.py) places its people at addresses the
placenames generator issued, with the same columns (`StandardPlace.columns`) and the same picking (`spread`).
The addresses' points are approximate (chosen near the roads, not surveyed); the house numbers are illustrative.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from shared.divisions import DATA

DEMO_ADDRESSES_CSV = DATA / "demo_addresses.csv"
T = TypeVar("T")


@dataclass(frozen=True)
class StandardPlace:
    """A standard address of the placenames registry, as a record that stores a place keeps it."""

    code: str
    full_name: str
    district_code: str
    township_code: str | None
    community_code: str | None
    latitude: float | None
    longitude: float | None

    @property
    def area_code(self) -> str:
        """The division the address lies in: its community, else its township, else its district."""
        return self.community_code or self.township_code or self.district_code

    def columns(self, model: Any = None) -> dict[str, Any]:
        """The record's address columns (`shared.addresses.StandardAddress`), standardised. With `model`, only
        those its table has: a table the standard-address migrations have not reached yet keeps the standard
        text, the area and the point in the columns it has."""
        columns = {
            "address": self.full_name,
            "address_written": None,
            "address_code": self.code,
            "address_status": "standard",
            "area_code": self.area_code,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }
        return columns if model is None else {k: v for k, v in columns.items() if k in model.__table__.c}


@dataclass(frozen=True)
class DemoAddress(StandardPlace):
    """A row of the demo city: the place and the parts the registry builds its text from."""

    road: str
    house_number: str
    building: str | None
    unit: str | None
    room: str | None


@cache
def demo_addresses() -> dict[str, DemoAddress]:
    """The demo city's addresses by their standard text (宁波市海曙区中山西路20号)."""
    with DEMO_ADDRESSES_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        row["full_name"]: DemoAddress(
            code=row["code"],
            full_name=row["full_name"],
            district_code=row["district_code"],
            township_code=row["township_code"] or None,
            community_code=row["community_code"] or None,
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            road=row["road"],
            house_number=row["house_number"],
            building=row["building"] or None,
            unit=row["unit"] or None,
            room=row["room"] or None,
        )
        for row in rows
    }


def demo_address(text: str) -> DemoAddress:
    """The demo address written `text`, with or without the city's name in front (海曙区中山西路20号). A text
    that is not in the demo city is a programming error in the demo data that names it."""
    by_text = demo_addresses()
    for full_name in (text, *(f"{city}{text}" for city in {a.full_name[:3] for a in by_text.values()})):
        if full_name in by_text:
            return by_text[full_name]
    raise LookupError(f"{text!r} is not an address of the demo city ({DEMO_ADDRESSES_CSV.name})")


def spread(places: Sequence[T], count: int, seed: int) -> list[T]:
    """`count` places for `count` records, the same for the same seed: every place once before any twice, in
    an order that mixes the districts (the places come in road order)."""
    if not places:
        raise ValueError("no places to spread the records over")
    rng = random.Random(seed)
    order = list(places)
    rng.shuffle(order)
    return [order[i % len(order)] for i in range(count)]
