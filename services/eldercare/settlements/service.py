"""Settling meal subsidies per canteen and month: statements produced from the orders, refunds of served meals,
approval by the district's staff, after which the month is locked (in the database: see the migration).

What a statement says is computed from the orders and refunds alone, each time: producing it again for an
unapproved month replaces its lines only when they changed (and then bumps its revision), so it is idempotent; an
approval checks that the orders still say what the reviewed revision says, under the statement row's lock.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Select, case, delete, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.meals.models import Canteen, MealOrder, Menu
from services.eldercare.settlements.models import MealRefund, MealStatement, MealStatementLine
from services.eldercare.settlements.schemas import RefundOut, StatementLineOut, StatementOut
from shared import clock
from shared.areas import within_area
from shared.db import utcnow
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.identity import Principal
from shared.money import format_yuan
from shared.pagination import PageParams, keyset
from shared.spreadsheets import XlsxWriter, safe_cell

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SECTIONS = ("placed", "cancelled", "refund", "adjustment")


def month_of(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first day of the month and of the next one."""
    first = dt.date.fromisoformat(f"{month}-01")
    return first, (first + dt.timedelta(days=32)).replace(day=1)


def previous_month(day: dt.date) -> str:
    return month_of(day.replace(day=1) - dt.timedelta(days=1))


def has_ended(month: str) -> bool:
    return month_bounds(month)[1] <= clock.today()


# ---- what a statement says -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    section: str
    tier: str
    orders: int
    portions: int
    gross_fen: int
    subsidy_fen: int
    payable_fen: int


@dataclass(frozen=True)
class Content:
    lines: tuple[Line, ...]

    def total(self, section: str, field: str) -> int:
        return sum(getattr(line, field) for line in self.lines if line.section == section)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps([asdict(line) for line in self.lines]).encode()).hexdigest()

    def totals(self) -> dict[str, int]:
        subsidy = self.total("placed", "subsidy_fen")
        refunded, adjusted = self.total("refund", "subsidy_fen"), self.total("adjustment", "subsidy_fen")
        return {
            "orders": self.total("placed", "orders"),
            "portions": self.total("placed", "portions"),
            "gross_fen": self.total("placed", "gross_fen"),
            "subsidy_fen": subsidy,
            "payable_fen": self.total("placed", "payable_fen"),
            "cancelled_orders": self.total("cancelled", "orders"),
            "refunds": self.total("refund", "orders"),
            "refunded_subsidy_fen": refunded,
            "refunded_payable_fen": self.total("refund", "payable_fen"),
            "adjustments": self.total("adjustment", "orders"),
            "adjustment_subsidy_fen": adjusted,
            "adjustment_payable_fen": self.total("adjustment", "payable_fen"),
            "net_subsidy_fen": subsidy - refunded - adjusted,
        }


def _month_orders(canteen_id: int, month: str) -> Select:
    first, following = month_bounds(month)
    return (
        select(MealOrder)
        .join(Menu, Menu.id == MealOrder.menu_id)
        .where(Menu.canteen_id == canteen_id, Menu.served_on >= first, Menu.served_on < following)
    )


async def compute(session: AsyncSession, canteen_id: int, month: str) -> Content:
    """The statement's lines, summed by the database from the orders of the canteen's menus served in the month
    and the refunds settled in it."""
    tier = func.coalesce(MealOrder.subsidy_tier, literal("none"))
    orders = (
        _month_orders(canteen_id, month)
        .with_only_columns(
            case((MealOrder.status == "cancelled", literal("cancelled")), else_=literal("placed")),
            tier,
            func.count(),
            func.sum(MealOrder.quantity),
            func.sum(MealOrder.unit_price_fen * MealOrder.quantity),
            func.sum(MealOrder.subsidy_fen),
            func.sum(MealOrder.payable_fen),
        )
        .group_by(MealOrder.status, tier)
    )
    section = case((MealRefund.order_month == MealRefund.month, literal("refund")), else_=literal("adjustment"))
    refunds = (
        select(
            section,
            tier,
            func.count(),
            func.sum(MealOrder.quantity),
            func.sum(MealOrder.unit_price_fen * MealOrder.quantity),
            func.sum(MealRefund.subsidy_fen),
            func.sum(MealRefund.payable_fen),
        )
        .join(MealOrder, MealOrder.id == MealRefund.order_id)
        .where(MealRefund.canteen_id == canteen_id, MealRefund.month == month)
        .group_by(section, tier)
    )
    rows = [*(await session.execute(orders)).all(), *(await session.execute(refunds)).all()]
    lines = (Line(s, t, n, int(p), int(g), int(sub), int(pay)) for s, t, n, p, g, sub, pay in rows)
    return Content(tuple(sorted(lines, key=lambda line: (SECTIONS.index(line.section), line.tier))))


# ---- who may see what ------------------------------------------------------------------------------------


async def _canteen_in_area(session: AsyncSession, principal: Principal, canteen_id: int) -> Canteen:
    canteen = await session.get(Canteen, canteen_id)
    if canteen is None or not principal.covers(canteen.area_code):
        raise NotFound("no canteen {canteen_id} in your area", canteen_id=canteen_id)
    return canteen


def _visible(principal: Principal) -> Select:
    query = select(MealStatement, Canteen).join(Canteen, Canteen.id == MealStatement.canteen_id)
    if not principal.is_area_staff:
        return query.where(False)
    return query.where(within_area(Canteen.area_code, principal.area or ""))


async def _statement(
    session: AsyncSession, principal: Principal, statement_id: int, *, lock: bool = False
) -> tuple[MealStatement, Canteen]:
    query = _visible(principal).where(MealStatement.id == statement_id)
    if lock:  # the approval's lock: a refund's trigger waits for it (FOR SHARE), and so does a second approval
        query = query.with_for_update(of=MealStatement).execution_options(populate_existing=True)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("no meal statement {statement_id} of a canteen in your area", statement_id=statement_id)
    return row[0], row[1]


async def _lines(session: AsyncSession, statement_id: int) -> list[MealStatementLine]:
    query = select(MealStatementLine).where(MealStatementLine.statement_id == statement_id)
    rows = list(await session.scalars(query))
    return sorted(rows, key=lambda line: (SECTIONS.index(line.section), line.tier))


async def statement_out(session: AsyncSession, statement: MealStatement, canteen: Canteen) -> StatementOut:
    lines = [StatementLineOut.model_validate(line) for line in await _lines(session, statement.id)]
    return StatementOut.model_validate(
        {
            **{c.key: getattr(statement, c.key) for c in MealStatement.__table__.columns},
            "canteen_name": canteen.name,
            "area_code": canteen.area_code,
            "lines": lines,
        }
    )


async def get_statement(session: AsyncSession, principal: Principal, statement_id: int) -> StatementOut:
    return await statement_out(session, *await _statement(session, principal, statement_id))


async def list_statements(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    month: str | None,
    canteen_id: int | None,
    status: str | None,
) -> list[StatementOut]:
    query = keyset(_visible(principal), MealStatement.id, page, descending=True)
    if month is not None:
        query = query.where(MealStatement.month == month)
    if canteen_id is not None:
        query = query.where(MealStatement.canteen_id == canteen_id)
    if status is not None:
        query = query.where(MealStatement.status == status)
    return [await statement_out(session, s, c) for s, c in (await session.execute(query)).all()]


# ---- producing and approving -----------------------------------------------------------------------------


def _check_month(month: str) -> None:
    if month_bounds(month)[0] > clock.today():
        raise BadRequest("{month} has not begun: statements are produced for this month or an earlier one", month=month)


async def produce(session: AsyncSession, principal: Principal, canteen: Canteen, month: str) -> MealStatement:
    """The canteen's statement for the month, produced or brought up to date from its orders. An approved one is
    locked: a 409. The same orders twice give the same statement, revision and all."""
    _check_month(month)
    query = (
        select(MealStatement)
        .where(MealStatement.canteen_id == canteen.id, MealStatement.month == month)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    statement = await session.scalar(query)  # locked first, then read the orders: a refund may not slip between
    content = await compute(session, canteen.id, month)
    if statement is None:
        statement = MealStatement(canteen_id=canteen.id, month=month, status="draft", revision=1)
        _fill(statement, content, principal)
        try:
            async with session.begin_nested():
                session.add(statement)
                await session.flush()
        except IntegrityError:  # produced at the same moment by another request or the monthly job
            statement = await session.scalar(query)
            if statement is None:
                raise
        else:
            await _write_lines(session, statement.id, content.lines)
            return statement
    if statement.status == "approved":
        raise Conflict(
            "the {month} statement of canteen {canteen_id} was approved on {approved_on} and is locked; a later "
            "refund of its orders is settled as an adjustment in the month it is made",
            resource=f"meal-statements/{statement.id}",
            month=month,
            canteen_id=canteen.id,
            approved_on=statement.approved_at.astimezone(clock.SHANGHAI).date().isoformat(),
        )
    if statement.digest != content.digest:
        _fill(statement, content, principal)
        statement.revision += 1
        await session.execute(delete(MealStatementLine).where(MealStatementLine.statement_id == statement.id))
        await session.flush()
        await _write_lines(session, statement.id, content.lines)
    return statement


def _fill(statement: MealStatement, content: Content, principal: Principal) -> None:
    for key, value in content.totals().items():
        setattr(statement, key, value)
    statement.digest = content.digest
    statement.generated_by = principal.subject
    statement.generated_at = utcnow()


async def _write_lines(session: AsyncSession, statement_id: int, lines: Iterable[Line]) -> None:
    session.add_all(MealStatementLine(statement_id=statement_id, **asdict(line)) for line in lines)
    await session.flush()


async def produce_in_area(session: AsyncSession, principal: Principal, canteen_id: int, month: str) -> StatementOut:
    canteen = await _canteen_in_area(session, principal, canteen_id)
    return await statement_out(session, await produce(session, principal, canteen, month), canteen)


async def produce_month(session: AsyncSession, principal: Principal, month: str) -> dict[str, int]:
    """Every canteen's statement for the month (the monthly job): those with orders served in it or refunds settled
    in it; approved ones are left as they are."""
    first, following = month_bounds(month)
    with_orders = select(Menu.canteen_id).join(MealOrder, MealOrder.menu_id == Menu.id)
    with_orders = with_orders.where(Menu.served_on >= first, Menu.served_on < following)
    with_refunds = select(MealRefund.canteen_id).where(MealRefund.month == month)
    approved = select(MealStatement.canteen_id).where(MealStatement.month == month, MealStatement.status == "approved")
    ids = await session.scalars(
        select(Canteen)
        .where(Canteen.id.in_(with_orders.union(with_refunds)), Canteen.id.not_in(approved))
        .order_by(Canteen.id)
    )
    canteens = list(ids)
    for canteen in canteens:
        await produce(session, principal, canteen, month)
    return {"statements": len(canteens)}


async def approve(session: AsyncSession, principal: Principal, statement_id: int, revision: int) -> StatementOut:
    """Approve the reviewed revision: by staff of the canteen's district, once the month has ended, and only while
    the orders still say what that revision says. The statement row is locked first, so a concurrent approval waits
    and then finds it approved (409), and a concurrent refund either committed before (the digest tells) or waits
    and is settled in a later month."""
    statement, canteen = await _statement(session, principal, statement_id, lock=True)
    label = f"the {statement.month} statement of canteen {canteen.id}"
    if principal.area != canteen.area_code[:6]:
        raise Forbidden(
            "{label} is approved by the staff of district {area_code}, not {area}",
            label=label,
            area_code=canteen.area_code[:6],
            area=principal.area,
        )
    if statement.status == "approved":
        raise Conflict(
            "{label} was already approved by {approved_by}",
            resource=f"meal-statements/{statement.id}",
            label=label,
            approved_by=statement.approved_by,
        )
    if not has_ended(statement.month):
        raise BadRequest("{label} can be approved once {month} has ended", label=label, month=statement.month)
    if revision != statement.revision:
        raise Conflict(
            "you reviewed revision {revision} of {label}; it is at revision {revision2}: review that one",
            resource=f"meal-statements/{statement.id}",
            revision=revision,
            label=label,
            revision2=statement.revision,
        )
    if (await compute(session, canteen.id, statement.month)).digest != statement.digest:
        raise Conflict(
            "the orders of {label} changed since revision {revision} was produced: produce it again and review it",
            resource=f"meal-statements/{statement.id}",
            label=label,
            revision=revision,
        )
    approved = await session.execute(
        update(MealStatement)
        .where(MealStatement.id == statement.id, MealStatement.status == "draft", MealStatement.revision == revision)
        .values(status="approved", approved_by=principal.subject, approved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if approved.rowcount != 1:  # SQLite has no row lock: the conditional update is what settles a race there
        raise Conflict("{label} was approved meanwhile", resource=f"meal-statements/{statement.id}", label=label)
    await session.refresh(statement)
    return await statement_out(session, statement, canteen)


# ---- refunds ---------------------------------------------------------------------------------------------


async def refund(session: AsyncSession, principal: Principal, order_id: int, reason: str) -> RefundOut:
    """Give back a served meal's subsidy and payment. Settled in its order's month unless that month's statement
    is approved (locked): then in the month of the refund, as an adjustment."""
    row = (
        await session.execute(
            select(MealOrder, Menu, Canteen)
            .join(Menu, Menu.id == MealOrder.menu_id)
            .join(Canteen, Canteen.id == Menu.canteen_id)
            .where(MealOrder.id == order_id)
        )
    ).first()
    if row is None or not principal.covers(row[2].area_code):
        raise NotFound("no meal order {order_id} at a canteen of your area", order_id=order_id)
    order, menu, canteen = row
    if order.status != "placed":
        raise Conflict(
            "meal order {order_id} was cancelled: it drew no subsidy",
            resource=f"meal-orders/{order_id}",
            order_id=order_id,
        )
    if utcnow() < menu.cutoff_at:
        raise BadRequest(
            "meal order {order_id} can still be cancelled until {cutoff_at}: cancel it",
            order_id=order_id,
            cutoff_at=menu.cutoff_at.isoformat(),
        )
    existing = await session.scalar(select(MealRefund.id).where(MealRefund.order_id == order_id))
    if existing is not None:
        raise Conflict(
            "meal order {order_id} was already refunded", resource=f"meal-refunds/{existing}", order_id=order_id
        )
    order_month = month_of(menu.served_on)
    # FOR SHARE: an approval of the order's month in progress finishes first, and then this refund sees it approved.
    status = await session.scalar(
        select(MealStatement.status)
        .where(MealStatement.canteen_id == canteen.id, MealStatement.month == order_month)
        .with_for_update(read=True)
    )
    refund = MealRefund(
        order_id=order.id,
        canteen_id=canteen.id,
        order_month=order_month,
        month=month_of(clock.today()) if status == "approved" else order_month,
        subsidy_fen=order.subsidy_fen,
        payable_fen=order.payable_fen,
        reason=reason,
        refunded_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(refund)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "meal order {order_id} was refunded meanwhile", resource=f"meal-orders/{order_id}", order_id=order_id
        ) from None
    return refund_out(refund)


def refund_out(refund: MealRefund) -> RefundOut:
    return RefundOut.model_validate(
        {
            **{c.key: getattr(refund, c.key) for c in MealRefund.__table__.columns},
            "is_adjustment": refund.month != refund.order_month,
        }
    )


# ---- export ----------------------------------------------------------------------------------------------


async def _export_rows(session: AsyncSession, statement: MealStatement, canteen: Canteen) -> list[list[object]]:
    """The statement as rows: a title, its lines with the net subsidy, then every order it counts and every
    adjustment. People appear by their register id only (masked by default)."""
    title = ["结算单 statement", statement.id, canteen.name, statement.month, statement.status]
    rows: list[list[object]] = [[*title, f"revision {statement.revision}"]]
    rows.append(["section", "tier", "orders", "portions", "gross_fen", "subsidy_fen", "payable_fen", "subsidy (yuan)"])
    for line in await _lines(session, statement.id):
        amounts = [line.orders, line.portions, line.gross_fen, line.subsidy_fen, line.payable_fen]
        rows.append([line.section, line.tier, *amounts, format_yuan(line.subsidy_fen)])
    rows.append(
        ["net_subsidy_fen", statement.net_subsidy_fen, "", "", "", "", "", format_yuan(statement.net_subsidy_fen)]
    )
    rows.append([])
    rows.append(
        [
            "order_id",
            "served_on",
            "meal",
            "elder_id",
            "tier",
            "quantity",
            "unit_price_fen",
            "subsidy_fen",
            "payable_fen",
            "status",
            "refund_month",
        ]
    )
    orders = (
        _month_orders(canteen.id, statement.month)
        .add_columns(Menu.served_on, Menu.meal, MealRefund.month)
        .outerjoin(MealRefund, MealRefund.order_id == MealOrder.id)
        .order_by(MealOrder.id)
    )
    for order, served_on, meal, refund_month in (await session.execute(orders)).all():
        priced = [order.quantity, order.unit_price_fen, order.subsidy_fen, order.payable_fen]
        rows.append(
            [
                order.id,
                served_on.isoformat(),
                meal,
                order.elder_id,
                order.subsidy_tier or "none",
                *priced,
                order.status,
                refund_month or "",
            ]
        )
    adjustments = (
        select(MealRefund, Menu.served_on, Menu.meal, MealOrder)
        .join(MealOrder, MealOrder.id == MealRefund.order_id)
        .join(Menu, Menu.id == MealOrder.menu_id)
        .where(
            MealRefund.canteen_id == canteen.id,
            MealRefund.month == statement.month,
            MealRefund.order_month != statement.month,
        )
        .order_by(MealRefund.id)
    )
    for refund, served_on, meal, order in (await session.execute(adjustments)).all():
        given_back = [order.quantity, order.unit_price_fen, -refund.subsidy_fen, -refund.payable_fen]
        rows.append(
            [
                order.id,
                served_on.isoformat(),
                meal,
                order.elder_id,
                order.subsidy_tier or "none",
                *given_back,
                "adjustment",
                refund.month,
            ]
        )
    return rows


async def export(
    session: AsyncSession, principal: Principal, statement_id: int, file_format: str
) -> tuple[str, bytes, str]:
    """The statement as a file: CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese) or .xlsx (through
    shared/spreadsheets.py, built in a thread: one canteen's month is thousands of rows, not long work). Text a
    spreadsheet would run as a formula (a canteen named "=…") is written with a leading quote in both."""
    statement, canteen = await _statement(session, principal, statement_id)
    rows = await _export_rows(session, statement, canteen)
    name = f"meal-statement-{canteen.id}-{statement.month}"
    if file_format == "xlsx":
        writer = XlsxWriter(statement.month, [str(cell) for cell in rows[0]])
        writer.append(rows[1:])
        return f"{name}.xlsx", await asyncio.to_thread(writer.save), XLSX_MEDIA_TYPE
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows([safe_cell(cell) for cell in row] for row in rows)
    return f"{name}.csv", out.getvalue().encode(), "text/csv; charset=utf-8"
