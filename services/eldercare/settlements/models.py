"""Monthly settlement of meal subsidies per canteen (助餐补贴结算): statements, their lines by tier, and refunds.

A statement covers the orders of one canteen's menus served in one month (Asia/Shanghai). Once district staff
approve it, it is locked in the database itself (triggers, see the migration `meal_statements`): its rows, its
lines, the orders it covers and the refunds settled in it can no longer change. A refund that comes after its
order's month was locked is settled as an adjustment in the month it is made (`MealRefund.month`).
"""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from services.eldercare.meals.models import MAX_MEAL_PRICE_FEN, MAX_ORDER_PORTIONS, MAX_PORTIONS
from shared.db import UTCDateTime, bounded

STATEMENT_STATES = ("draft", "approved")
# placed: orders of the month that were not cancelled (served); cancelled: cancelled before the cut-off (no subsidy
# drawn); refund: refunds of this month's orders; adjustment: refunds of orders of an earlier, locked month.
LINE_SECTIONS = ("placed", "cancelled", "refund", "adjustment")
MONTH_PATTERN_SQL = "month LIKE '____-__' AND substr(month, 6, 2) BETWEEN '01' AND '12'"
# A canteen's month: 31 days × 3 meals × the largest menu, each order up to 3 portions at the dearest price.
MAX_MONTH_ORDERS = 31 * 3 * MAX_PORTIONS
MAX_MONTH_FEN = MAX_MONTH_ORDERS * MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN


class MealRefund(Base):
    """A served meal's subsidy and payment given back (the meal was not served, or not as ordered).

    Append-only. `month` is the statement it is settled in: its order's month while that month's statement is not
    approved, else the month the refund was made (an adjustment in a later statement).
    """

    __tablename__ = "meal_refunds"
    __table_args__ = (
        UniqueConstraint("order_id"),  # a whole refund, once
        CheckConstraint(MONTH_PATTERN_SQL, name="month_format"),
        CheckConstraint("month >= order_month", name="not_before_its_order"),
        bounded("subsidy_fen", 0, MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN),
        bounded("payable_fen", 0, MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN),
        Index("ix_meal_refunds_canteen_id_month", "canteen_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("meal_orders.id"))
    canteen_id: Mapped[int] = mapped_column(ForeignKey("canteens.id"))
    order_month: Mapped[str] = mapped_column(String(7), comment="YYYY-MM the order's meal was served in")
    month: Mapped[str] = mapped_column(String(7), comment="YYYY-MM of the statement the refund is settled in")
    subsidy_fen: Mapped[int] = mapped_column(Integer)
    payable_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    refunded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MealStatement(Base):
    """One canteen's settlement statement (结算单) for one month: draft until district staff approve it."""

    __tablename__ = "meal_statements"
    __table_args__ = (
        UniqueConstraint("canteen_id", "month"),
        CheckConstraint(MONTH_PATTERN_SQL, name="month_format"),
        CheckConstraint("status IN ('draft', 'approved')", name="status_known"),
        CheckConstraint(
            "(status = 'approved') = (approved_at IS NOT NULL AND approved_by IS NOT NULL)", name="approved_when_signed"
        ),
        CheckConstraint(
            "net_subsidy_fen = subsidy_fen - refunded_subsidy_fen - adjustment_subsidy_fen", name="net_adds_up"
        ),
        bounded("revision", 1, 1_000_000),
        bounded("orders", 0, MAX_MONTH_ORDERS),
        bounded("portions", 0, MAX_MONTH_ORDERS * MAX_ORDER_PORTIONS),
        bounded("gross_fen", 0, MAX_MONTH_FEN),
        bounded("subsidy_fen", 0, MAX_MONTH_FEN),
        bounded("payable_fen", 0, MAX_MONTH_FEN),
        bounded("cancelled_orders", 0, MAX_MONTH_ORDERS),
        bounded("refunds", 0, MAX_MONTH_ORDERS),
        bounded("refunded_subsidy_fen", 0, MAX_MONTH_FEN),
        bounded("refunded_payable_fen", 0, MAX_MONTH_FEN),
        bounded("adjustments", 0, MAX_MONTH_ORDERS),
        bounded("adjustment_subsidy_fen", 0, MAX_MONTH_FEN),
        bounded("adjustment_payable_fen", 0, MAX_MONTH_FEN),
        bounded("net_subsidy_fen", -MAX_MONTH_FEN, MAX_MONTH_FEN),
        Index("ix_meal_statements_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    canteen_id: Mapped[int] = mapped_column(ForeignKey("canteens.id"))
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # Bumped each time producing the statement again changed what it says; approval names the revision reviewed.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    digest: Mapped[str] = mapped_column(String(64), comment="sha256 of the lines: what the revision says")
    orders: Mapped[int] = mapped_column(Integer)
    portions: Mapped[int] = mapped_column(Integer)
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    subsidy_fen: Mapped[int] = mapped_column(BigInteger)
    payable_fen: Mapped[int] = mapped_column(BigInteger)
    cancelled_orders: Mapped[int] = mapped_column(Integer)
    refunds: Mapped[int] = mapped_column(Integer)
    refunded_subsidy_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_payable_fen: Mapped[int] = mapped_column(BigInteger)
    adjustments: Mapped[int] = mapped_column(Integer)
    adjustment_subsidy_fen: Mapped[int] = mapped_column(BigInteger)
    adjustment_payable_fen: Mapped[int] = mapped_column(BigInteger)
    net_subsidy_fen: Mapped[int] = mapped_column(BigInteger, comment="what the canteen is paid for the month")
    generated_by: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class MealStatementLine(Base):
    """One section of a statement for one subsidy tier ('none' for orders no tier applied to)."""

    __tablename__ = "meal_statement_lines"
    __table_args__ = (
        UniqueConstraint("statement_id", "section", "tier"),
        CheckConstraint("section IN ('placed', 'cancelled', 'refund', 'adjustment')", name="section_known"),
        CheckConstraint(
            "tier IN ('tekun', 'dibao', 'dibao_marginal', 'age_80_plus', 'age_60_79', 'disability', 'none')",
            name="tier_known",
        ),
        bounded("orders", 1, MAX_MONTH_ORDERS),
        bounded("portions", 0, MAX_MONTH_ORDERS * MAX_ORDER_PORTIONS),
        bounded("gross_fen", 0, MAX_MONTH_FEN),
        bounded("subsidy_fen", 0, MAX_MONTH_FEN),
        bounded("payable_fen", 0, MAX_MONTH_FEN),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("meal_statements.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(12))
    tier: Mapped[str] = mapped_column(String(20))
    orders: Mapped[int] = mapped_column(Integer)
    portions: Mapped[int] = mapped_column(Integer)
    gross_fen: Mapped[int] = mapped_column(BigInteger, comment="price × portions")
    subsidy_fen: Mapped[int] = mapped_column(BigInteger)
    payable_fen: Mapped[int] = mapped_column(BigInteger)
