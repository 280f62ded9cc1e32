"""Family economic status assessment (家庭经济状况认定): incomes and assets of members, each with its source."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment.models import Asset, Income, MedicalExpense
from services.assistance.assessment.schemas import (
    EXEMPT_ITEMS,
    ITEMS_BY_KIND,
    AssetIn,
    AssetOut,
    EconomicSummary,
    IncomeIn,
    IncomeOut,
    MedicalExpenseIn,
    MedicalExpenseOut,
    SourceIn,
    SourceOut,
)
from services.assistance.database import PII_READS
from services.assistance.eligibility import rules
from services.assistance.households import service as households
from services.assistance.households.membership import membership
from services.assistance.households.models import Household, Member
from services.assistance.policies import service as policies
from shared import clock
from shared.db import one_or_404, utcnow
from shared.errors import InvalidInput, NotFound
from shared.identity import Principal
from shared.pii_reads import PiiReadOut, record_pii_read

MAX_MONTHS = 12
MEDICAL_WINDOW_MONTHS = 12  # 支出型: the rigid expenses of the past year, spread over its months


def _month(value: str) -> dt.date:
    year, month = value.split("-")
    return dt.date(int(year), int(month), 1)


def _month_text(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(first: dt.date, last: dt.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _check_source(source: SourceIn) -> None:
    if source.obtained_on > clock.today():
        raise InvalidInput("source.obtained_on", "a figure cannot have been obtained in the future")


def _source_out(row: Income | Asset) -> SourceOut:
    return SourceOut(kind=row.source_kind, name=row.source_name, obtained_on=row.source_on)


def _last_month(first: dt.date, months: int) -> dt.date:
    last = first
    for _ in range(months - 1):
        last = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return last


def _checked_period(period_from: str, period_to: str) -> tuple[dt.date, int]:
    """A period of whole months: ordered, at most 12, none in the future (422 naming `period_to`)."""
    first, last = _month(period_from), _month(period_to)
    if last < first:
        raise InvalidInput("period_to", "the period ends before it starts")
    months = months_between(first, last)
    if months > MAX_MONTHS:
        raise InvalidInput(
            "period_to",
            "a period covers at most {MAX_MONTHS} months; this one covers {months}",
            MAX_MONTHS=MAX_MONTHS,
            months=months,
        )
    if last > clock.today().replace(day=1):
        raise InvalidInput("period_to", "nothing can be recorded for a month that has not begun")
    return first, months


def income_out(row: Income) -> IncomeOut:
    last = _last_month(row.period_from, row.months)
    # The amounts stay masked: they are read in the clear only through `read_income_amounts`.
    return IncomeOut(
        id=row.id,
        member_id=row.member_id,
        kind=row.kind,
        item=row.item,
        period_from=_month_text(row.period_from),
        period_to=_month_text(last),
        months=row.months,
        exempt=row.exempt,
        source=_source_out(row),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


def asset_out(row: Asset) -> AssetOut:
    return AssetOut(
        id=row.id,
        member_id=row.member_id,
        kind=row.kind,
        value_fen=row.value_fen,
        description=row.description,
        source=_source_out(row),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def _member_of(session: AsyncSession, household_id: int, member_id: int) -> Member:
    member = await session.scalar(select(Member).where(Member.id == member_id, Member.household_id == household_id))
    if member is None:
        raise InvalidInput(
            "member_id",
            "no member {member_id} in household {household_id}",
            member_id=member_id,
            household_id=household_id,
        )
    return member


async def add_income(session: AsyncSession, principal: Principal, household_id: int, data: IncomeIn) -> Income:
    household = await households.get_visible(session, principal, household_id)
    return await record_income(session, household, data, recorded_by=principal.subject)


async def record_income(session: AsyncSession, household: Household, data: IncomeIn, *, recorded_by: str) -> Income:
    """Record an income of a member of `household`, once the caller may (staff of its area, or the resident who
    declared it)."""
    if data.item not in ITEMS_BY_KIND[data.kind]:
        raise InvalidInput(
            "item",
            "{item} is not an item of {kind} income; expected one of {items_by_kind}",
            item=data.item,
            kind=data.kind,
            items_by_kind=", ".join(sorted(ITEMS_BY_KIND[data.kind])),
        )
    first, months = _checked_period(data.period_from, data.period_to)
    _check_source(data.source)
    await _member_of(session, household.id, data.member_id)
    income = Income(
        household_id=household.id,
        member_id=data.member_id,
        kind=data.kind,
        item=data.item,
        amount_fen=data.amount_fen,
        period_from=first,
        months=months,
        monthly_fen=data.amount_fen // months,
        exempt=data.item in EXEMPT_ITEMS,
        source_kind=data.source.kind,
        source_name=data.source.name,
        source_on=data.source.obtained_on,
        recorded_by=recorded_by,
        recorded_at=utcnow(),
    )
    session.add(income)
    await session.flush()
    return income


async def read_income_amounts(
    session: AsyncSession, principal: Principal, household_id: int, income_id: int, purpose: str
) -> PiiReadOut:
    """An income's amounts in the clear, with the audit record written in the same transaction. The subject of
    the record is the member whose income it is (a person's audit then lists it), the fields name the income."""
    household = await households.get_visible(session, principal, household_id)
    income = await one_or_404(
        session,
        select(Income).where(Income.id == income_id, Income.household_id == household.id),
        "no income {income_id} in household {household_id} that you may see",
        income_id=income_id,
        household_id=household_id,
    )
    return await record_pii_read(
        session,
        PII_READS,
        principal,
        subject_type="member",
        subject_id=income.member_id,
        subject_area=household.area_code,
        purpose=purpose,
        values={
            f"incomes.{income.id}.amount_fen": str(income.amount_fen),
            f"incomes.{income.id}.monthly_fen": str(income.monthly_fen),
        },
    )


async def add_asset(session: AsyncSession, principal: Principal, household_id: int, data: AssetIn) -> Asset:
    household = await households.get_visible(session, principal, household_id)
    return await record_asset(session, household, data, recorded_by=principal.subject)


async def record_asset(session: AsyncSession, household: Household, data: AssetIn, *, recorded_by: str) -> Asset:
    """Record an asset of `household` or one of its members, once the caller may."""
    _check_source(data.source)
    if data.member_id is not None:
        await _member_of(session, household.id, data.member_id)
    asset = Asset(
        household_id=household.id,
        member_id=data.member_id,
        kind=data.kind,
        value_fen=data.value_fen,
        description=data.description,
        source_kind=data.source.kind,
        source_name=data.source.name,
        source_on=data.source.obtained_on,
        recorded_by=recorded_by,
        recorded_at=utcnow(),
    )
    session.add(asset)
    await session.flush()
    return asset


def medical_expense_out(row: MedicalExpense) -> MedicalExpenseOut:
    return MedicalExpenseOut(
        id=row.id,
        member_id=row.member_id,
        amount_fen=row.amount_fen,
        period_from=_month_text(row.period_from),
        period_to=_month_text(_last_month(row.period_from, row.months)),
        months=row.months,
        description=row.description,
        source=_source_out(row),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def add_medical_expense(
    session: AsyncSession, principal: Principal, household_id: int, data: MedicalExpenseIn
) -> MedicalExpense:
    household = await households.get_visible(session, principal, household_id)
    first, months = _checked_period(data.period_from, data.period_to)
    _check_source(data.source)
    await _member_of(session, household.id, data.member_id)
    expense = MedicalExpense(
        household_id=household.id,
        member_id=data.member_id,
        amount_fen=data.amount_fen,
        period_from=first,
        months=months,
        description=data.description,
        source_kind=data.source.kind,
        source_name=data.source.name,
        source_on=data.source.obtained_on,
        recorded_by=principal.subject,
        recorded_at=utcnow(),
    )
    session.add(expense)
    await session.flush()
    return expense


async def medical_expenses_of(session: AsyncSession, household_id: int) -> list[MedicalExpense]:
    return list(
        await session.scalars(
            select(MedicalExpense).where(MedicalExpense.household_id == household_id).order_by(MedicalExpense.id)
        )
    )


def in_medical_window(expense: MedicalExpense, as_of: dt.date) -> bool:
    """Whether the expense began within the 12 months that end with `as_of`'s month."""
    this_month = as_of.replace(day=1)
    return 0 <= months_between(expense.period_from, this_month) - 1 < MEDICAL_WINDOW_MONTHS


def medical_monthly(expenses: list[MedicalExpense], counted: set[int], as_of: dt.date) -> int:
    """Counted members' rigid medical expenses of the past 12 months, spread over 12 months (rounded down)."""
    return (
        sum(e.amount_fen for e in expenses if e.member_id in counted and in_medical_window(e, as_of))
        // MEDICAL_WINDOW_MONTHS
    )


async def incomes_of(session: AsyncSession, household_id: int) -> list[Income]:
    return list(await session.scalars(select(Income).where(Income.household_id == household_id).order_by(Income.id)))


async def assets_of(session: AsyncSession, household_id: int) -> list[Asset]:
    return list(await session.scalars(select(Asset).where(Asset.household_id == household_id).order_by(Asset.id)))


def income_totals(incomes: list[Income], counted: set[int], as_of: dt.date, period_months: int) -> dict[str, int]:
    """Counted members' monthly incomes on `as_of`: counted (non-exempt) and exempt, before any policy deduction,
    over the assessment period of `period_months` months, as the eligibility check counts them (per member and
    kind of income, wages apart, `rules.period_income`): an income that ended before the period is not in them."""

    def total(exempt: bool) -> int:
        months = [(i, rules.months_in_period(i.period_from, i.months, as_of, period_months)) for i in incomes]
        return sum(
            rules.period_income(
                [
                    (i.monthly_fen, m)
                    for i, m in months
                    if i.member_id == member and i.exempt is exempt and wages is (i.kind == "wages")
                ],
                period_months,
            )
            for member in counted
            for wages in (True, False)
        )

    return {"counted_monthly_income_fen": total(False), "exempt_monthly_income_fen": total(True)}


async def income_months(session: AsyncSession, district_code: str, as_of: dt.date) -> int:
    """The assessment period in force on `as_of` for the district (`rules.income_months`: one month when none)."""
    try:
        versions = await policies.in_force(session, as_of=as_of, district_code=district_code, code=rules.INCOME_PERIOD)
    except NotFound:
        return rules.DEFAULT_INCOME_MONTHS
    return versions[0].value


async def read_income_totals(
    session: AsyncSession, principal: Principal, household_id: int, purpose: str
) -> PiiReadOut:
    """The economic status' income totals in the clear, audited about the household (its figures, not one
    person's)."""
    household = await households.get_visible(session, principal, household_id)
    members = await households.members_of(session, household.id)
    today = clock.today()
    counted = {m.id for m in members if membership(households.facts_of(m), today)[0]}
    period_months = await income_months(session, household.area_code[:6], today)
    totals = income_totals(await incomes_of(session, household.id), counted, today, period_months)
    return await record_pii_read(
        session,
        PII_READS,
        principal,
        subject_type="household",
        subject_id=household.id,
        subject_area=household.area_code,
        purpose=purpose,
        values={k: str(v) for k, v in totals.items()},
    )


async def summary(session: AsyncSession, principal: Principal, household_id: int) -> EconomicSummary:
    household = await households.get_visible(session, principal, household_id)
    members = await households.members_of(session, household.id)
    today = clock.today()
    counted = {m.id for m in members if membership(households.facts_of(m), today)[0]}
    incomes = await incomes_of(session, household.id)
    expenses = await medical_expenses_of(session, household.id)
    return EconomicSummary(
        household_id=household.id,
        incomes=[income_out(i) for i in incomes],
        assets=[asset_out(a) for a in await assets_of(session, household.id)],
        medical_expenses=[medical_expense_out(e) for e in expenses],
        medical_expense_monthly_fen=medical_monthly(expenses, counted, today),
    )
