"""Proactive discovery (数据找人): whole-city screening as a restartable background job, and partner signals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, select, text, tuple_, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment import service as assessment
from services.assistance.discovery import batch, signals
from services.assistance.discovery.exclusions import live_applications
from services.assistance.discovery.facts import facts_digest
from services.assistance.discovery.models import Lead, Screening, Signal
from services.assistance.discovery.schemas import LeadOut, ScreeningIn, ScreeningOut, SignalIn, SignalOut
from services.assistance.eligibility import rules
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household, Member
from services.assistance.pii import id_number_index
from services.assistance.policies.models import PolicyVersion
from services.assistance.policies.schemas import CITY_CODE
from services.assistance.programmes.models import Enrolment
from shared import clock
from shared.areas import area_prefix, within_area
from shared.db import Database, utcnow
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.identity import Principal
from shared.idnumbers import mask_id_number, parse_id_number
from shared.pagination import PageParams

log = logging.getLogger("assistance.screening")
MAX_ATTEMPTS = 3
HOUSEHOLD_PROGRAMMES = ("dibao", "dibao_marginal")
WORK_MEM = "64MB"  # per sort or hash of a chunk's statement, for the job's own transactions only


def screening_out(s: Screening) -> ScreeningOut:
    percent = 100.0 if s.total_households == 0 else round(100 * s.processed_households / s.total_households, 1)
    return ScreeningOut(id=s.id, state=s.state, as_of=s.as_of, area_code=s.area_code,
                        total_households=s.total_households, processed_households=s.processed_households,
                        progress_percent=percent if s.state != "done" else 100.0, leads_count=s.leads_count,
                        attempts=s.attempts, error=s.error, created_at=s.created_at, finished_at=s.finished_at)


def lead_out(lead: Lead) -> LeadOut:
    return LeadOut(id=lead.id, screening_id=lead.screening_id, signal_id=lead.signal_id,
                   household_id=lead.household_id, member_id=lead.member_id, area_code=lead.area_code,
                   programme=lead.programme, state=lead.state, reasons=lead.reasons, created_at=lead.created_at)


async def create_screening(session: AsyncSession, principal: Principal, data: ScreeningIn) -> Screening:
    area = data.area_code or principal.area
    if not principal.covers(area):
        raise Forbidden(f"area {area} is outside your area {principal.area}")
    as_of = data.as_of or clock.today()
    district = area[:6] if len(area_prefix(area)) >= 6 else CITY_CODE
    await eligibility.parameters(session, district, as_of)  # a day before any rule: 422 now, not a failed job
    in_area = within_area(Household.area_code, area)
    until = await session.scalar(select(func.max(Household.id)).where(in_area)) or 0
    total = await session.scalar(select(func.count()).select_from(Household).where(in_area, Household.id <= until))
    screening = Screening(state="queued", as_of=as_of, area_code=area, until_household_id=until,
                          total_households=total, processed_households=0, last_household_id=0, leads_count=0,
                          attempts=0, requested_by=principal.subject, created_at=utcnow())
    session.add(screening)
    await session.flush()
    return screening


async def get_screening(session: AsyncSession, principal: Principal, screening_id: int) -> Screening:
    screening = await session.get(Screening, screening_id)
    # Visible to staff above the screened area and to staff within it (a city screening's leads are worked by
    # each district, street and community for its own part).
    within = principal.kind == "staff" and bool(principal.area) and \
        area_prefix(principal.area).startswith(area_prefix(screening.area_code)) if screening else False
    if screening is None or not (principal.covers(screening.area_code) or within):
        raise NotFound(f"no screening {screening_id} that you may see")
    return screening


async def list_leads(session: AsyncSession, principal: Principal, screening_id: int, page: PageParams, *,
                     area_code: str | None) -> list[Lead]:
    await get_screening(session, principal, screening_id)
    query = (select(Lead).where(Lead.screening_id == screening_id,
                                within_area(Lead.area_code, principal.area))
             .order_by(Lead.area_code, Lead.id).limit(page.limit + 1))
    if area_code:
        query = query.where(within_area(Lead.area_code, area_code))
    if page.after is not None:
        after_area, after_id = page.after
        query = query.where(tuple_(Lead.area_code, Lead.id) > tuple_(after_area, after_id))
    return list(await session.scalars(query))


async def _receiving(session: AsyncSession, after_id: int, until_id: int, as_of: dt.date) -> set[tuple]:
    """(household, programme) for household programmes and (member, programme) for the others, current on as_of
    or applied for (an application under way, `exclusions`), for the households with after_id < id ≤ until_id (a
    range, not a list: a chunk is tens of thousands)."""
    rows = await session.execute(union_all(
        select(Member.household_id, Member.id, Enrolment.programme)
        .join(Enrolment, Enrolment.id_number_index == Member.id_number_index)
        .where(Member.household_id > after_id, Member.household_id <= until_id, Enrolment.since_on <= as_of,
               or_(Enrolment.until_on.is_(None), Enrolment.until_on > as_of)),
        live_applications(after_id=after_id, until_id=until_id)))
    found = set()
    for household_id, member_id, programme in rows:
        found.add(("h", household_id, programme) if programme in HOUSEHOLD_PROGRAMMES else ("m", member_id, programme))
    return found


def _is_received(hit: batch.Hit, receiving: set[tuple]) -> bool:
    if hit.member_id is None:
        return ("h", hit.household_id, hit.programme) in receiving
    return ("m", hit.member_id, hit.programme) in receiving


async def _district_parameters(session: AsyncSession, screening: Screening) -> list[tuple[str, tuple, dict]]:
    """(prefix, excluded prefixes, parameters) to run: one set for the area, plus one per district with its own."""
    prefix = area_prefix(screening.area_code)
    own = sorted(d for d in await session.scalars(select(PolicyVersion.district_code).distinct().where(
        PolicyVersion.district_code != CITY_CODE, PolicyVersion.effective_on <= screening.as_of))
        if d.startswith(prefix) or prefix.startswith(d))
    if len(prefix) >= 6:  # within one district: that district's parameters
        return [(prefix, (), await eligibility.parameters(session, prefix[:6], screening.as_of))]
    runs = [(prefix, tuple(own), await eligibility.parameters(session, CITY_CODE, screening.as_of))]
    runs += [(d, (), await eligibility.parameters(session, d, screening.as_of)) for d in own]
    return runs


async def next_chunk(session: AsyncSession, screening: Screening, after_id: int, chunk: int) -> tuple[int, int]:
    """The next `chunk` households of the screening's area after `after_id`: (the last one's id, how many)."""
    following = (select(Household.id).where(Household.id > after_id, Household.id <= screening.until_household_id,
                                            within_area(Household.area_code, screening.area_code))
                 .order_by(Household.id).limit(chunk).subquery())
    last, count = (await session.execute(select(func.max(following.c.id), func.count()))).one()
    return last, count


@dataclass(frozen=True)
class Turns:
    """What the chunks in flight take turns at. Reading and decrypting a chunk's incomes is this process's work
    and holds the GIL: one chunk at a time. Writing a chunk's leads is the database's work: as many at once as it
    has cores for it. Without turns the chunks in flight moved in step (all decrypting while the database idled,
    then all writing at once) and the cores sat idle for 5-10 s of a 25 s city screening."""
    load: asyncio.Semaphore
    write: asyncio.Semaphore


async def run_chunk(session: AsyncSession, screening: Screening, after_id: int, last: int, count: int, *,
                    before_checkpoint: asyncio.Future | None = None, turns: Turns | None = None) -> None:
    """Screen the households after_id < id ≤ last (`count` of them) and move the checkpoint from after_id to last,
    in the caller's transaction. `before_checkpoint`, when given, is awaited before the checkpoint moves: the
    chunk before this one, which must have committed its own (checkpoints move in order). `turns`, when given, is
    shared by the chunks in flight (`Turns`)."""
    now, written = utcnow(), 0
    if (await session.connection()).dialect.name == "postgresql":
        # The chunk's sorts and hashes fit in memory instead of spilling to temporary files (default 4 MB). And
        # every chunk is planned for its own id range: asyncpg prepares the statement, and from its sixth run
        # PostgreSQL may switch to a generic plan that ignores the range (nested loops over whole CTEs, measured:
        # a 25,000-household chunk ran for minutes instead of about a second).
        await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    # The chunk's incomes, decrypted and summed per member, once for every district's run below.
    async with turns.load if turns else contextlib.nullcontext():
        await batch.load_incomes(session, screening.as_of, after_id=after_id, until_id=last)
    async with turns.write if turns else contextlib.nullcontext():
        for run_prefix, excluded, params in await _district_parameters(session, screening):
            written += await batch.write_leads(session, screening.id, params, screening.as_of, now,
                                               area_prefix=run_prefix, after_id=after_id, until_id=last,
                                               exclude_prefixes=excluded)
    if before_checkpoint is not None:
        await before_checkpoint
    # The checkpoint moves only from where the chunk began: a second runner loses here and rolls back.
    moved = await session.execute(
        update(Screening).where(Screening.id == screening.id, Screening.last_household_id == after_id)
        .values(last_household_id=last, processed_households=Screening.processed_households + count,
                leads_count=Screening.leads_count + written, heartbeat_at=now)
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise RuntimeError("another process advanced this screening")


async def _chunk_job(database: Database, screening: Screening, after_id: int, last: int, count: int,
                     before: asyncio.Task | None, turns: Turns) -> None:
    async with database.sessionmaker() as session, session.begin():
        await run_chunk(session, screening, after_id, last, count, before_checkpoint=before, turns=turns)


async def claim(database: Database, screening_id: int, stale_after: dt.timedelta) -> bool:
    """Take the job if it is queued, or running with a heartbeat older than `stale_after` (its process died)."""
    now = utcnow()
    async with database.sessionmaker() as session, session.begin():
        taken = await session.execute(
            update(Screening).where(Screening.id == screening_id, Screening.state.in_(("queued", "running")),
                                    or_(Screening.heartbeat_at.is_(None), Screening.heartbeat_at < now - stale_after,
                                        Screening.state == "queued"))
            .values(state="running", heartbeat_at=now, attempts=Screening.attempts + 1)
            .execution_options(synchronize_session=False))
        return taken.rowcount == 1


async def _finish(database: Database, screening_id: int, state: str, error: str | None = None) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(Screening).where(Screening.id == screening_id).values(
            state=state, error=error, finished_at=utcnow()).execution_options(synchronize_session=False))


# Chunks in flight at once on PostgreSQL, each on its own connection and in its own transaction: while the
# database writes the leads of up to WRITING_CHUNKS of them (one per core of the machine this was measured on),
# the next chunk's incomes are read and decrypted in this process, and one more waits its turn to write (`Turns`).
# Their checkpoints still move one after the other (`run_chunk`), so a stop leaves every committed chunk behind
# one checkpoint and the rest to be redone. SQLite has one writer: one chunk at a time, no turns.
PARALLEL_CHUNKS = 4
WRITING_CHUNKS = 2


async def run(database: Database, screening_id: int, *, chunk: int, stale_after: dt.timedelta,
              max_chunks: int | None = None) -> None:
    """Run (or resume) one screening to the end; any error marks it failed with the reason, never lost."""
    if not await claim(database, screening_id, stale_after):
        return
    if database.dialect == "postgresql":
        # Fresh statistics first: without them (a newly loaded city) the planner picks nested loops over the
        # grouped subqueries and a chunk takes seconds instead of milliseconds. ANALYZE samples, so it is cheap.
        async with database.sessionmaker() as session, session.begin():
            await session.execute(text("ANALYZE households, members, incomes, assets, enrolments"))
    depth = PARALLEL_CHUNKS if database.dialect == "postgresql" else 1
    turns = Turns(load=asyncio.Semaphore(1), write=asyncio.Semaphore(WRITING_CHUNKS))
    in_flight: list[asyncio.Task] = []
    try:
        async with database.sessionmaker() as session:
            screening = await session.get(Screening, screening_id)
            if screening.attempts > MAX_ATTEMPTS:
                raise RuntimeError(f"gave up after {MAX_ATTEMPTS} attempts")
            after = screening.last_household_id
        started = 0
        while max_chunks is None or started < max_chunks:
            async with database.sessionmaker() as session:
                last, count = await next_chunk(session, screening, after, chunk)
            if not count:
                break
            before = in_flight[-1] if in_flight else None
            in_flight.append(asyncio.create_task(_chunk_job(database, screening, after, last, count, before, turns)))
            started, after = started + 1, last
            if len(in_flight) >= depth:
                await in_flight.pop(0)
        while in_flight:
            await in_flight.pop(0)
        if max_chunks is not None and started >= max_chunks:
            return  # tests: stop as a crashed process would, leaving the job running
        await _finish(database, screening_id, "done")
    except asyncio.CancelledError:
        await _abandon(in_flight)
        raise  # shutdown: the job stays running and is resumed by the next process
    except Exception as exc:  # noqa: BLE001 - any failure is reported on the job, not swallowed
        await _abandon(in_flight)
        log.exception("screening %s failed", screening_id)
        await _finish(database, screening_id, "failed", f"{type(exc).__name__}: {exc}"[:2000])


async def _abandon(tasks: list[asyncio.Task]) -> None:
    """Cancel the chunks still in flight and wait until their transactions have rolled back."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class ScreeningRunner:
    """Runs screenings in the service process; on start it takes over jobs a previous process left unfinished."""

    def __init__(self, database: Database, *, chunk: int, stale_after_s: float):
        self.database, self.chunk = database, chunk
        self.stale_after = dt.timedelta(seconds=stale_after_s)
        self.tasks: set[asyncio.Task] = set()

    def start(self, screening_id: int) -> None:
        task = asyncio.create_task(run(self.database, screening_id, chunk=self.chunk, stale_after=self.stale_after))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def resume_pending(self) -> None:
        async with self.database.sessionmaker() as session:
            pending = list(await session.scalars(select(Screening.id).where(
                Screening.state.in_(("queued", "running"))).order_by(Screening.id)))
        for screening_id in pending:
            self.tasks.add(task := asyncio.create_task(self._resume_when_stale(screening_id)))
            task.add_done_callback(self.tasks.discard)

    async def _resume_when_stale(self, screening_id: int) -> None:
        """A job may still be alive in another replica: wait for its heartbeat to go stale before taking it."""
        while True:
            await run(self.database, screening_id, chunk=self.chunk, stale_after=self.stale_after)
            async with self.database.sessionmaker() as session:
                state = await session.scalar(select(Screening.state).where(Screening.id == screening_id))
            if state not in ("queued", "running"):
                return
            await asyncio.sleep(max(self.stale_after.total_seconds(), 0.05))

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# --- signals ------------------------------------------------------------------------------------------------

async def _signal_out(session: AsyncSession, signal: Signal) -> SignalOut:
    leads = list(await session.scalars(select(Lead).where(Lead.signal_id == signal.id).order_by(Lead.id)))
    return SignalOut(id=signal.id, signal_id=signal.signal_id, kind=signal.kind,
                     id_number_masked=mask_id_number(signal.id_number), occurred_on=signal.occurred_on,
                     household_found=signal.household_id is not None, leads=[lead_out(lead) for lead in leads],
                     received_at=signal.received_at)


async def receive_signal(session: AsyncSession, principal: Principal, data: SignalIn) -> tuple[SignalOut, bool]:
    """Record the signal once per partner and signal id, re-evaluate the person's household with what the signal
    says (`signals.apply`) and open leads for programmes it looks eligible for but neither receives nor has
    applied for. Returns (result, replayed)."""
    person = parse_id_number(data.id_number)
    if data.occurred_on > clock.today():
        raise InvalidInput("occurred_on", "a signal cannot be about the future")
    if data.kind == "disability_record":
        for field in ("disability_grade", "disability_kind"):
            if getattr(data, field) is None:
                raise InvalidInput(field, "a disability record gives the grade and the kind (残疾等级, 残疾类别)")
    else:
        for field in ("disability_grade", "disability_kind"):
            if getattr(data, field) is not None:
                raise InvalidInput(field, "only a disability record (kind disability_record) gives a disability")
    existing = await session.scalar(select(Signal).where(Signal.partner == principal.subject,
                                                         Signal.signal_id == data.signal_id))
    if existing is not None:
        return await _signal_out(session, existing), True
    member = await session.scalar(select(Member).where(Member.id_number_index == id_number_index(person.value)))
    signal = Signal(partner=principal.subject, signal_id=data.signal_id, kind=data.kind, id_number=person.value,
                    occurred_on=data.occurred_on, amount_fen=data.amount_fen, detail=data.detail,
                    disability_grade=data.disability_grade, disability_kind=data.disability_kind,
                    household_id=member.household_id if member else None, received_at=utcnow())
    try:
        async with session.begin_nested():
            session.add(signal)
            await session.flush()
    except IntegrityError:
        # The same signal arrived twice at once: the other request recorded it; answer with that one.
        existing = await session.scalar(select(Signal).where(Signal.partner == principal.subject,
                                                             Signal.signal_id == data.signal_id))
        return await _signal_out(session, existing), True
    if member is not None:
        await _open_leads(session, signal, member, principal.name or principal.subject)
    return await _signal_out(session, signal), False


SHOCK_REVIEW = ("a disaster's loss has no figure: assess it on the visit (the 低保 criteria listed passed on the "
                "recorded facts)")


async def _open_leads(session: AsyncSession, signal: Signal, member: Member, department: str) -> None:
    """The leads of a signal about `member`: its household re-evaluated today with the signal applied."""
    household = await session.get(Household, member.household_id)
    today = clock.today()
    recorded, _numbers = await eligibility.facts_of_household(session, household, today)
    expenses = await assessment.medical_expenses_of(session, household.id) if signal.kind == "medical_bill" else []
    applied = signals.apply(signal, department, member.id, recorded, expenses, today)
    params = await eligibility.parameters(session, household.area_code[:6], today)
    result = rules.evaluate(applied.facts, params, today)
    expenditure = rules.expenditure_type(applied.facts, params, result)
    standard = params["dibao_standard"].value
    # A household lead keeps the facts digest the screening computes in SQL (never the income itself), so a
    # lead closed on the same facts is not raised again by the next screening, whichever raised it first.
    household_facts = {"counted_members": result.counted_members, "standard_fen": standard,
                       "facts_digest": facts_digest(result.counted_members, result.household_income_fen, standard)}
    said = {"signal_fact": applied.fact} if applied.fact else {}
    receiving = await _receiving(session, household.id - 1, household.id, today)
    for programme in result.programmes:
        targets = [(int(p.key), p.criteria, {}) for p in programme.persons or [] if p.eligible]
        if programme.persons is None and programme.eligible:
            targets = [(None, programme.criteria, {})]
        elif programme.code == "dibao" and expenditure is not None and expenditure.eligible:
            # 支出型: the income is above the line, but not once the rigid medical expenses are paid.
            targets = [(None, expenditure.criteria, {"expenditure_type": True})]
        elif programme.code == "dibao" and applied.shock:
            targets = [(None, programme.criteria, {"review": SHOCK_REVIEW})]
        for member_id, criteria, why in targets:
            hit = batch.Hit(household.id, household.area_code, programme.code, member_id, {})
            if _is_received(hit, receiving):
                continue
            session.add(Lead(signal_id=signal.id, household_id=household.id, member_id=member_id,
                             area_code=household.area_code, programme=programme.code, state="open",
                             reasons={"signal": signal.kind, "as_of": today.isoformat(),
                                      "criteria": [c.code for c in criteria if c.passed],
                                      **(household_facts if member_id is None else {}), **said, **why},
                             created_at=utcnow()))
    await session.flush()
