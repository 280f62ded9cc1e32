"""Ningbo's division tree (行政区划), read from the one data file every service shares.

`shared/data/divisions.csv` (built by `scripts/build_divisions.py`, sources in `shared/data/DIVISIONS.md`) is
the register placenames loads into its database; the other services and the gateway read the same file here,
once per process, so none of them keeps a copy of a code or a name by hand. Everything cached is a plain
value: this module holds no database session and no mutable state.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
DIVISIONS_CSV = DATA / "divisions.csv"
FORMER_NAMES_CSV = DATA / "division_former_names.csv"


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str  # city, district, township or village
    parent: str | None
    current: bool  # no valid_to: in force today
    successor: str | None  # the division that took over a retired one, when the sources say


@dataclass(frozen=True)
class Tree:
    by_code: dict[str, Division]
    city: str
    districts: tuple[Division, ...]  # the current districts, in code order
    by_name: dict[str, tuple[str, ...]]  # every code a name was ever given to, former names included


@cache
def tree() -> Tree:
    by_code: dict[str, Division] = {}
    by_name: dict[str, list[str]] = {}
    with DIVISIONS_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if not row["code"]:  # a division no source gives a code for (see DIVISIONS.md)
                continue
            by_code[row["code"]] = Division(
                row["code"],
                row["name"],
                row["level"],
                row["parent_code"] or None,
                not row["valid_to"],
                row["successor_code"] or None,
            )
            by_name.setdefault(row["name"], []).append(row["code"])
    with FORMER_NAMES_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            by_name.setdefault(row["name"], []).append(row["code"])
    [city] = [d.code for d in by_code.values() if d.level == "city"]
    districts = tuple(
        sorted((d for d in by_code.values() if d.level == "district" and d.current), key=lambda d: d.code)
    )
    return Tree(by_code, city, districts, {name: tuple(codes) for name, codes in by_name.items()})


def city_code() -> str:
    """The city this deployment serves: the one `city` row of the tree."""
    return tree().city


def districts() -> tuple[Division, ...]:
    return tree().districts


def division(code: str) -> Division | None:
    return tree().by_code.get(code)


def current(code: str) -> Division | None:
    """The division in force today for `code`, following successors (江东区 330204 → 鄞州区 330212); None for
    an unknown code, or a retired one whose successor no source records."""
    found = division(code)
    while found is not None and not found.current:
        found = division(found.successor) if found.successor else None
    return found


def is_current(code: str) -> bool:
    found = division(code)
    return found is not None and found.current


def division_code(name: str, within: str | None = None) -> str:
    """The code of the division in force called `name` (or formerly called so: 中马街道 → 外滩街道's code),
    optionally below the division `within`. A name that fits none, or more than one, is a programming error
    in the caller: demo data and defaults name their divisions so that one fits."""
    codes = {
        d.code
        for code in tree().by_name.get(name, ())
        if (d := current(code)) is not None and (within is None or d.code.startswith(within))
    }
    if len(codes) != 1:
        raise LookupError(f"{name!r}{f' within {within}' if within else ''} names {len(codes)} current divisions")
    return codes.pop()
