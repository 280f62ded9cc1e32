"""Reading the division register: current or all, by parent and level, with parent and successor chains."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    division = await get_or_404(session, Division, code, f"no division with code {code}")
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
