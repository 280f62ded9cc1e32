"""Whole-city screening (数据找人): the screening jobs as staff start and read them, and one chunk of a screening.

A screening evaluates every household of an area with the set-based form of the rules (`batch`), a chunk of
households at a time; `runner` shares the chunks of one among the worker processes (the jobs `screening.run` and
`screening.chunks`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.database import JOBS
from services.assistance.discovery import batch
from services.assistance.discovery.models import Screening
from services.assistance.discovery.schemas import ScreeningIn, ScreeningOut
from services.assistance.eligibility import rules
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household
from services.assistance.leads.models import Lead
from services.assistance.policies.models import PolicyVersion
from shared import clock
from shared.areas import CITY_CODE, area_prefix, within_area
from shared.db import utcnow
from shared.errors import InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset

LIVE = ("queued", "running")
CANCELLED = "cancelled: its job was cancelled"
WORK_MEM = "64MB"  # per sort or hash of a chunk's statement, for the job's own transactions only


def screening_out(s: Screening, job: Mapping[str, Any] | None = None) -> ScreeningOut:
    """The screening as staff see it. `job`, its row of `jobs` when read, speaks for a screening still queued or
    running whose job has ended: cancelled before a worker took it, or given up after its workers kept dying,
    when no handler was there to say so on the screening."""
    state, error, finished_at = s.state, s.error, s.finished_at
    if state in LIVE and job is not None and job["status"] in ("cancelled", "failed"):
        state, finished_at = "failed", job["finished_at"]
        # A traceback's last line says what went wrong (as GET /jobs/{id} shows it).
        error = CANCELLED if job["status"] == "cancelled" else (job["last_error"] or "failed").strip().splitlines()[-1]
    percent = 100.0 if s.total_households == 0 else round(100 * s.processed_households / s.total_households, 1)
    return ScreeningOut(
        id=s.id,
        state=state,
        as_of=s.as_of,
        area_code=s.area_code,
        total_households=s.total_households,
        processed_households=s.processed_households,
        progress_percent=percent if state != "done" else 100.0,
        leads_count=s.leads_count,
        attempts=s.attempts,
        error=error,
        created_at=s.created_at,
        finished_at=finished_at,
        job_id=s.job_id,
    )


async def create_screening(session: AsyncSession, principal: Principal, data: ScreeningIn) -> Screening:
    area = data.area_code or principal.area
    principal.check_covers(area)
    as_of = data.as_of or clock.today()
    if as_of > clock.today():
        # Leads are work for the communities now: a day to come would list people for who they will be then (in
        # 2199 every person alive is 60 or over, and so is every supporter), none of it true today.
        raise InvalidInput("as_of", "a screening is as of today or an earlier day, not a day to come")
    district = area[:6] if len(area_prefix(area)) >= 6 else CITY_CODE
    await eligibility.parameters(session, district, as_of)  # a day before any rule: 422 now, not a failed job
    in_area = within_area(Household.area_code, area)
    until = await session.scalar(select(func.max(Household.id)).where(in_area)) or 0
    total = await session.scalar(select(func.count()).select_from(Household).where(in_area, Household.id <= until))
    screening = Screening(
        state="queued",
        as_of=as_of,
        area_code=area,
        until_household_id=until,
        total_households=total,
        processed_households=0,
        last_household_id=0,
        leads_count=0,
        attempts=0,
        requested_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(screening)
    await session.flush()
    return screening


async def get_screening(session: AsyncSession, principal: Principal, screening_id: int) -> Screening:
    screening = await session.get(Screening, screening_id)
    # Visible to staff above the screened area and to staff within it (a city screening's leads are worked by
    # each district, street and community for its own part).
    within = (
        screening is not None
        and principal.is_area_staff
        and area_prefix(principal.area).startswith(area_prefix(screening.area_code))
    )
    if screening is None or not (principal.covers(screening.area_code) or within):
        raise NotFound("no screening {screening_id} that you may see", screening_id=screening_id)
    return screening


async def read_screening(session: AsyncSession, principal: Principal, screening_id: int) -> ScreeningOut:
    screening = await get_screening(session, principal, screening_id)
    job = None
    if screening.job_id is not None and screening.state in LIVE:
        job = (await session.execute(select(JOBS).where(JOBS.c.id == screening.job_id))).mappings().first()
    return screening_out(screening, job)


async def list_leads(
    session: AsyncSession, principal: Principal, screening_id: int, page: PageParams, *, area_code: str | None
) -> list[Lead]:
    await get_screening(session, principal, screening_id)
    query = keyset(
        select(Lead).where(Lead.screening_id == screening_id, within_area(Lead.area_code, principal.area)),
        (Lead.area_code, Lead.id),
        page,
        cast=(str, int),
    )
    if area_code:
        query = query.where(within_area(Lead.area_code, area_code))
    return list(await session.scalars(query))


# --- one chunk --------------------------------------------------------------------------------------------


async def _district_parameters(session: AsyncSession, screening: Screening) -> list[tuple[str, tuple, dict]]:
    """(prefix, excluded prefixes, parameters) to run: one set for the area, plus one per district with its own."""
    prefix = area_prefix(screening.area_code)
    own = sorted(
        d
        for d in await session.scalars(
            select(PolicyVersion.district_code)
            .distinct()
            .where(PolicyVersion.district_code != CITY_CODE, PolicyVersion.effective_on <= screening.as_of)
        )
        if d.startswith(prefix) or prefix.startswith(d)
    )
    if len(prefix) >= 6:  # within one district: that district's parameters
        return [(prefix, (), await eligibility.parameters(session, prefix[:6], screening.as_of))]
    runs = [(prefix, tuple(own), await eligibility.parameters(session, CITY_CODE, screening.as_of))]
    runs += [(d, (), await eligibility.parameters(session, d, screening.as_of)) for d in own]
    return runs


async def chunk_ranges(
    session: AsyncSession, screening: Screening, after_id: int, chunk: int
) -> list[tuple[int, int, int]]:
    """The screening's households after `after_id` cut into chunks of `chunk` in id order, in one statement:
    (the id before the chunk's first, its last id, how many) each."""
    numbered = (
        select(Household.id, ((func.row_number().over(order_by=Household.id) - 1) // chunk).label("n"))
        .where(
            Household.id > after_id,
            Household.id <= screening.until_household_id,
            within_area(Household.area_code, screening.area_code),
        )
        .subquery()
    )
    rows = (
        await session.execute(
            select(func.max(numbered.c.id), func.count()).group_by(numbered.c.n).order_by(numbered.c.n)
        )
    ).all()
    ranges, before = [], after_id
    for last, count in rows:
        ranges.append((before, last, count))
        before = last
    return ranges


@dataclass(frozen=True)
class Turns:
    """What the chunks in flight take turns at. Reading and decrypting a chunk's incomes is this process's work
    and holds the GIL: one chunk at a time. Writing a chunk's leads is the database's work: as many at once as it
    has cores for it. Without turns the chunks in flight moved in step (all decrypting while the database idled,
    then all writing at once) and the cores sat idle for a good part of a city screening."""

    load: asyncio.Semaphore
    write: asyncio.Semaphore


async def run_chunk(
    session: AsyncSession, screening: Screening, after_id: int, last: int, *, turns: Turns | None = None
) -> int:
    """Screen the households after_id < id ≤ last and write their leads, in the caller's transaction; returns how
    many leads. `turns`, when given, is shared by the chunks in flight (`Turns`)."""
    now, written = utcnow(), 0
    if (await session.connection()).dialect.name == "postgresql":
        # The chunk's sorts and hashes fit in memory instead of spilling to temporary files (default 4 MB). And
        # every chunk is planned for its own id range: asyncpg prepares the statement, and from its sixth run
        # PostgreSQL may switch to a generic plan that ignores the range (nested loops over whole CTEs: a chunk ran
        # for minutes instead of about a second).
        await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    # The chunk's incomes, decrypted and summed per member over the assessment period, once for every district's
    # run below that has the same period (a district may set its own: then once more for its run).
    loaded = None
    runs = sorted(await _district_parameters(session, screening), key=lambda run: rules.income_months(run[2]))
    for run_prefix, excluded, params in runs:
        if rules.income_months(params) != loaded:
            loaded = rules.income_months(params)
            async with turns.load if turns else contextlib.nullcontext():
                await batch.load_incomes(
                    session, screening.as_of, period_months=loaded, after_id=after_id, until_id=last
                )
        async with turns.write if turns else contextlib.nullcontext():
            written += await batch.write_leads(
                session,
                screening.id,
                params,
                screening.as_of,
                now,
                area_prefix=run_prefix,
                after_id=after_id,
                until_id=last,
                exclude_prefixes=excluded,
            )
    return written
