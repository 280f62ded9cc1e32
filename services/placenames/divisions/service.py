"""Reading the division register: current or all, by parent and level, with parent and successor chains."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.changes.service import record, successor
from services.placenames.divisions.models import Division
from services.placenames.divisions.schemas import DivisionDetail, DivisionOut
from shared import clock
from shared.db import get_or_404
from shared.pagination import PageParams, keyset

MAX_CHAIN = 10  # deeper than any real chain: guards against a cycle in the data


def is_current(division: Division, day: dt.date) -> bool:
    return (division.valid_from is None or division.valid_from <= day) and (
        division.valid_to is None or division.valid_to > day
    )


def to_out(division: Division, day: dt.date | None = None) -> DivisionOut:
    """Computed: whether the division is current on the day."""
    return DivisionOut(
        code=division.code,
        name=division.name,
        level=division.level,
        parent_code=division.parent_code,
        valid_from=division.valid_from,
        valid_to=division.valid_to,
        is_current=is_current(division, day or clock.today()),
        successor_code=division.successor_code,
        source=division.source,
        note=division.note,
    )


async def list_page(
    session: AsyncSession, page: PageParams, *, parent: str | None, level: str | None, include_historical: bool
) -> list[Division]:
    query = keyset(select(Division), Division.code, page, cast=str)
    if parent is not None:
        query = query.where(Division.parent_code == parent)
    if level is not None:
        query = query.where(Division.level == level)
    if not include_historical:
        today = clock.today()
        query = query.where(
            and_(
                or_(Division.valid_from.is_(None), Division.valid_from <= today),
                or_(Division.valid_to.is_(None), Division.valid_to > today),
            )
        )
    return list(await session.scalars(query))


async def _chain(session: AsyncSession, start: str | None, step) -> list[Division]:
    chain: list[Division] = []
    code = start
    while code is not None and len(chain) < MAX_CHAIN:
        division = await session.get(Division, code)
        if division is None:
            break
        chain.append(division)
        code = step(division)
    return chain


async def detail(session: AsyncSession, code: str) -> DivisionDetail:
    division = await get_or_404(session, Division, code, "no division with code {code_}", code_=code)
    today = clock.today()
    ancestors = await _chain(session, division.parent_code, lambda d: d.parent_code)
    successors = (
        []
        if is_current(division, today)
        else await _chain(
            session, division.successor_code, lambda d: None if is_current(d, today) else d.successor_code
        )
    )
    return DivisionDetail(
        **to_out(division, today).model_dump(),
        ancestors=[to_out(d, today) for d in reversed(ancestors)],
        successors=[to_out(d, today) for d in successors],
    )


@dataclass(frozen=True)
class Was:
    """What a stored division was before the register was brought up to its data file."""

    name: str
    current: bool


def change_of(was: Was, division: Division, successor: Division | None) -> str | None:
    """The feed's kind of change from `was` to `division` (as the data file now has it), or None."""
    if was.current and division.valid_to is not None:
        if successor is None:
            return "division.retired"
        # 2016: 百丈街道 330204001 of 江东区 went on as 330212008 of 鄞州区 (moved); 江东区 into 鄞州区 (merged).
        return "division.moved" if successor.name == division.name else "division.merged"
    if was.name != division.name:
        return "division.renamed"
    return None


async def record_changes(session: AsyncSession, before: dict[str, Was], stored: dict[str, Division]) -> int:
    """Record in the feed how the divisions in `before` changed, and carry the standard addresses in them along
    (new codes and text, each an `address.moved` or `address.renamed`). Returns the number of divisions changed."""
    from services.placenames.addresses.service import follow_divisions  # addresses depend on divisions

    successors: dict[str, str] = {}
    renamed: set[str] = set()
    for code, was in before.items():
        division = stored[code]
        successor = stored.get(division.successor_code) if division.successor_code else None
        kind = change_of(was, division, successor)
        if kind is None:
            continue
        if kind == "division.renamed":
            renamed.add(code)
        elif successor is not None:
            successors[code] = successor.code
        record(
            session,
            kind,
            code,
            [] if kind == "division.retired" else [successor_of(successor or division)],
            previous_text=was.name,
            decided_on=division.valid_to,
        )
    await follow_divisions(session, successors, renamed, stored)
    return len(successors) + len(renamed)


def successor_of(division: Division) -> dict[str, Any]:
    return successor(division.code, division.name, division.code)
