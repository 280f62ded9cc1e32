"""Home-care subsidy (居家养老服务补助): a monthly allowance by tier and capability level, kept as ledger entries,
drawn by verified visits. The balance never goes below zero: every debit is one conditional update on the
account row, backed by a check constraint."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.elders.models import Elder
from services.eldercare.elders.service import age_of, get_visible, visible_to
from services.eldercare.peers import AssistanceFacts
from services.eldercare.subsidies.models import AllowanceRate, SubsidyAccount, SubsidyEntry
from services.eldercare.subsidies.schemas import AccountIn, AllowanceRateIn, GrantReport
from shared import clock
from shared.areas import CITY_CODE, within_area
from shared.db import one_or_404, utcnow
from shared.errors import BadRequest, Conflict, Forbidden, InvalidInput
from shared.identity import Principal
from shared.money import MAX_BALANCE_FEN, format_yuan
from shared.pagination import PageParams, keyset
from shared.programmes import ProgrammeCode

# The programmes that are tiers of their own, the first one found deciding; without one, the age band does.
TIER_ORDER: tuple[ProgrammeCode, ...] = ("tekun", "dibao", "dibao_marginal")
MAX_ATTEMPTS = 5


async def add_rate(session: AsyncSession, principal: Principal, data: AllowanceRateIn) -> AllowanceRate:
    if not principal.is_city_staff:
        raise Forbidden("allowance rates are set by city-level staff of the bureau (area 330200)")
    existing = await session.scalar(
        select(AllowanceRate.id).where(
            AllowanceRate.tier == data.tier,
            AllowanceRate.level == data.level,
            AllowanceRate.district_code == data.district_code,
            AllowanceRate.effective_on == data.effective_on,
        )
    )
    if existing is not None:
        raise Conflict(
            "a version with this tier, level, district and date exists; add one with another date",
            resource=f"allowance-rates/{existing}",
        )
    rate = AllowanceRate(**data.model_dump(), created_by=principal.subject, created_at=utcnow())
    session.add(rate)
    await session.flush()
    return rate


async def rate_for(
    session: AsyncSession, *, tier: str, level: int, district_code: str, on: dt.date
) -> AllowanceRate | None:
    """The version in force on `on`: the district's own when it has one, else the city's."""
    rows = list(
        await session.scalars(
            select(AllowanceRate)
            .where(
                AllowanceRate.tier == tier,
                AllowanceRate.level == level,
                AllowanceRate.effective_on <= on,
                AllowanceRate.district_code.in_({CITY_CODE, district_code}),
            )
            .order_by(AllowanceRate.effective_on)
        )
    )
    own = [r for r in rows if r.district_code != CITY_CODE]
    return (own or rows or [None])[-1]


def tier_of(elder: Elder, facts: AssistanceFacts, on: dt.date) -> str:
    for tier in TIER_ORDER:
        if tier in facts.programmes:
            return tier
    return "age_80_plus" if age_of(elder, on) >= 80 else "age_60_79"


async def open_account(
    session: AsyncSession, principal: Principal, data: AccountIn, facts: AssistanceFacts, latest_level: int | None
) -> SubsidyAccount:
    elder = await get_visible(session, principal, data.elder_id)
    if principal.kind != "staff":
        raise Forbidden("subsidy accounts are opened by staff")
    level = data.level if data.level is not None else latest_level
    if level is None:
        raise BadRequest("the person has no recorded capability assessment: give `level` or assess them first")
    existing = await session.scalar(select(SubsidyAccount.id).where(SubsidyAccount.elder_id == elder.id))
    if existing is not None:
        raise Conflict("this person already has a subsidy account", resource=f"subsidy-accounts/{existing}")
    today = clock.today()
    tier = tier_of(elder, facts, today)
    rate = await rate_for(session, tier=tier, level=level, district_code=elder.area_code[:6], on=today)
    if rate is None or rate.amount_fen == 0:
        raise BadRequest(
            "no home-care allowance is in force for tier {tier} at level {level}: the person is not eligible",
            tier=tier,
            level=level,
        )
    account = SubsidyAccount(
        elder_id=elder.id,
        tier=tier,
        level=level,
        balance_fen=0,
        tier_basis="live" if facts.live else "fallback",
        opened_by=principal.subject,
        opened_at=utcnow(),
    )
    session.add(account)
    elder_id = elder.id
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("this person already has a subsidy account", resource=f"elders/{elder_id}") from None
    return account


def accounts_visible_to(principal: Principal) -> Select:
    elders = visible_to(principal).with_only_columns(Elder.id)
    return select(SubsidyAccount).where(SubsidyAccount.elder_id.in_(elders))


async def get_account(session: AsyncSession, principal: Principal, account_id: int) -> SubsidyAccount:
    return await one_or_404(
        session,
        accounts_visible_to(principal).where(SubsidyAccount.id == account_id).execution_options(populate_existing=True),
        "no subsidy account {account_id} that you may see",
        account_id=account_id,
    )


async def list_accounts(
    session: AsyncSession, principal: Principal, page: PageParams, *, elder_id: int | None
) -> list[SubsidyAccount]:
    query = keyset(accounts_visible_to(principal), SubsidyAccount.id, page)
    if elder_id is not None:
        query = query.where(SubsidyAccount.elder_id == elder_id)
    return list(await session.scalars(query))


async def entries(session: AsyncSession, principal: Principal, account_id: int, page: PageParams) -> list[SubsidyEntry]:
    await get_account(session, principal, account_id)
    query = keyset(
        select(SubsidyEntry).where(SubsidyEntry.account_id == account_id), SubsidyEntry.id, page, descending=True
    )
    return list(await session.scalars(query))


async def _move(session: AsyncSession, account_id: int, delta: int) -> int | None:
    """Add `delta` (negative: a debit) unless the balance would go below zero or past its bound (MAX_BALANCE_FEN,
    so that no sum of bounded amounts overflows the column); the new balance, or None."""
    new_balance = await session.scalar(
        update(SubsidyAccount)
        .where(SubsidyAccount.id == account_id, (SubsidyAccount.balance_fen + delta).between(0, MAX_BALANCE_FEN))
        .values(balance_fen=SubsidyAccount.balance_fen + delta)
        .returning(SubsidyAccount.balance_fen)
        .execution_options(synchronize_session=False)
    )
    return new_balance


async def live_draws(session: AsyncSession, visit_ids: list[int]) -> dict[int, int]:
    """What the live draw of each visit took (fen, positive). A visit never drawn, or whose draw was reversed, is
    absent: a visit's last draw-or-reversal entry is its live draw when it is a draw."""
    rows = await session.execute(
        select(SubsidyEntry.visit_id, SubsidyEntry.kind, SubsidyEntry.amount_fen)
        .where(SubsidyEntry.visit_id.in_(visit_ids), SubsidyEntry.visit_seq.is_not(None))
        .order_by(SubsidyEntry.visit_id, SubsidyEntry.visit_seq)
    )
    last: dict[int, tuple[str, int]] = {}
    for visit_id, kind, amount in rows.all():
        last[visit_id] = (kind, amount)
    return {visit_id: -amount for visit_id, (kind, amount) in last.items() if kind == "draw"}


async def settle_visit(
    session: AsyncSession, *, elder_id: int, visit_id: int, price_fen: int, verified: bool, by: str
) -> int | None:
    """Bring a visit's subsidy in line with its status: a verified visit has one live draw (drawn now if it has
    none), any other has none (its draw reversed by an entry giving the same amount back). The amount the live
    draw took, or None when the visit has none.

    The caller holds the visit (its row locked, or the write transaction on SQLite); the entry's number, unique per
    visit, refuses a second draw or reversal from any path that did not."""
    last = (
        await session.execute(
            select(SubsidyEntry)
            .where(SubsidyEntry.visit_id == visit_id, SubsidyEntry.visit_seq.is_not(None))
            .order_by(SubsidyEntry.visit_seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    seq = 0 if last is None or last.visit_seq is None else last.visit_seq
    live = last is not None and last.kind == "draw"
    if verified:
        if last is not None and live:
            return -last.amount_fen
        return await draw_for_visit(
            session, elder_id=elder_id, visit_id=visit_id, price_fen=price_fen, by=by, after=seq
        )
    if last is not None and live:
        await _reverse(session, last, by=by)
    return None


async def _reverse(session: AsyncSession, draw: SubsidyEntry, *, by: str) -> None:
    account_id, amount, visit_id, seq = draw.account_id, -draw.amount_fen, draw.visit_id, draw.visit_seq
    assert seq is not None
    new_balance = await _move(session, account_id, amount)
    if new_balance is None:  # the balance is at its bound: giving the draw back would pass it
        raise Conflict(
            "subsidy account {account_id} would hold more than {max_balance_fen}, the bound of a balance",
            resource=f"subsidy-accounts/{account_id}",
            account_id=account_id,
            max_balance_fen=format_yuan(MAX_BALANCE_FEN),
        )
    session.add(
        SubsidyEntry(
            account_id=account_id,
            kind="reversal",
            amount_fen=amount,
            balance_after_fen=new_balance,
            visit_id=visit_id,
            visit_seq=seq + 1,
            prev_seq=seq,
            note="visit corrected to flagged",
            created_by=by,
            created_at=utcnow(),
        )
    )
    await session.flush()


async def draw_for_visit(
    session: AsyncSession, *, elder_id: int, visit_id: int, price_fen: int, by: str, after: int = 0
) -> int:
    """Pay what the balance allows of a verified visit's price; return the amount drawn (the rest is self-paid).
    `after`: the number of the visit's last draw-or-reversal entry (0: none), this draw's is the next.

    The amount is read, then taken only if the balance still covers it; a concurrent draw in between makes the
    update miss, and the draw is recomputed from the new balance.
    """
    account = await session.scalar(select(SubsidyAccount).where(SubsidyAccount.elder_id == elder_id))
    if account is None:
        return 0
    account_id = account.id
    for _ in range(MAX_ATTEMPTS):
        balance = await session.scalar(select(SubsidyAccount.balance_fen).where(SubsidyAccount.id == account_id))
        amount = min(price_fen, balance)
        new_balance = await _move(session, account_id, -amount)
        if new_balance is not None:
            session.add(
                SubsidyEntry(
                    account_id=account_id,
                    kind="draw",
                    amount_fen=-amount,
                    balance_after_fen=new_balance,
                    visit_id=visit_id,
                    visit_seq=after + 1,
                    prev_seq=after or None,
                    created_by=by,
                    created_at=utcnow(),
                )
            )
            await session.flush()
            return amount
    raise Conflict(
        "the subsidy account is being drawn by many visits at once; retry", resource=f"subsidy-accounts/{account_id}"
    )


async def adjust(
    session: AsyncSession, principal: Principal, account_id: int, amount_fen: int, note: str
) -> SubsidyEntry:
    account = await get_account(session, principal, account_id)
    if principal.kind != "staff":
        raise Forbidden("adjustments are made by staff")
    new_balance = await _move(session, account.id, amount_fen)
    if new_balance is None and amount_fen > 0:
        raise Conflict(
            "subsidy account {account_id} would hold more than {max_balance_fen}, the bound of a balance",
            resource=f"subsidy-accounts/{account_id}",
            account_id=account_id,
            max_balance_fen=format_yuan(MAX_BALANCE_FEN),
        )
    if new_balance is None:
        raise Conflict(
            "the balance of subsidy account {account_id} does not cover {amount_fen} fen",
            resource=f"subsidy-accounts/{account_id}",
            account_id=account_id,
            amount_fen=-amount_fen,
        )
    entry = SubsidyEntry(
        account_id=account.id,
        kind="adjustment",
        amount_fen=amount_fen,
        balance_after_fen=new_balance,
        note=note,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    return entry


async def grant_month(session: AsyncSession, principal: Principal, month: str) -> GrantReport:
    """Credit each account in the caller's area with the month's allowance; a second run credits nothing. Only a
    month that has begun in Asia/Shanghai: a month to come would be paid ahead (every month to 2199, one by one)."""
    first_day = dt.date.fromisoformat(month + "-01")
    if not principal.is_area_staff:
        raise Forbidden("allowances are granted by staff")
    if first_day > clock.today():
        raise InvalidInput(
            "month", "{month} has not begun: allowances are granted for this month or an earlier one", month=month
        )
    # Only accounts open in the month (by its end, Shanghai time): a month granted late, after a missed run, does not
    # pay accounts opened since, nor any month back to 2022 for an account opened this year.
    month_end = dt.datetime.combine((first_day + dt.timedelta(days=32)).replace(day=1), dt.time(0), clock.SHANGHAI)
    query = (
        select(SubsidyAccount, Elder.area_code)
        .join(Elder, Elder.id == SubsidyAccount.elder_id)
        .where(within_area(Elder.area_code, principal.area), SubsidyAccount.opened_at < month_end)
        .where(
            ~select(SubsidyEntry.id)
            .where(
                SubsidyEntry.account_id == SubsidyAccount.id,
                SubsidyEntry.kind == "allowance",
                SubsidyEntry.month == month,
            )
            .exists()
        )
    )
    credited, total = 0, 0
    for account, area_code in (await session.execute(query)).all():
        rate = await rate_for(
            session, tier=account.tier, level=account.level, district_code=area_code[:6], on=first_day
        )
        if rate is None:
            continue
        account_id, amount, rate_id = account.id, rate.amount_fen, rate.id
        try:
            async with session.begin_nested():  # a concurrent run that got here first: skip, keep the rest
                new_balance = await _move(session, account_id, amount)
                if new_balance is None:  # the balance is at its bound: this month's allowance would pass it
                    continue
                session.add(
                    SubsidyEntry(
                        account_id=account_id,
                        kind="allowance",
                        amount_fen=amount,
                        balance_after_fen=new_balance,
                        month=month,
                        rate_id=rate_id,
                        created_by=principal.subject,
                        created_at=utcnow(),
                    )
                )
                await session.flush()
        except IntegrityError:
            continue
        credited += 1
        total += amount
    return GrantReport(month=month, accounts_credited=credited, total_fen=total)
