"""meal statements

Canteens' monthly settlement statements (services/eldercare/settlements), their lines and the refunds of served
meals, and the lock an approval puts on a month, held by triggers on both backends (a constraint failure:
PostgreSQL's 23514, SQLite's RAISE(ABORT), both an IntegrityError):
- an approved statement and its lines never change and are never deleted;
- an order of a canteen's month whose statement is approved keeps its menu, quantity, prices, subsidy and status;
- a refund is append-only, and never settled in an approved month.
On PostgreSQL the check reads the statement row FOR SHARE: a change racing an approval waits for it and is then
refused, or commits first and is then seen by the approval.

Revision ID: 348e2b6e75ff
Revises: c1a7e3d95f02
Create Date: 2026-12-06 23:30:55
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db
from shared.migrations import drop_append_only, make_append_only


revision: str = "348e2b6e75ff"
down_revision: Union[str, Sequence[str], None] = "c1a7e3d95f02"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The columns of an order that its settlement depends on.
SETTLED_COLUMNS = (
    "menu_id, elder_id, quantity, unit_price_fen, subsidy_fen, payable_fen, subsidy_tier, subsidy_rate_id, status"
)

PG_UP = [
    """CREATE FUNCTION eldercare_meal_month_locked(canteen integer, settled_month text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE found_status text;
BEGIN
  SELECT status INTO found_status FROM meal_statements WHERE canteen_id = canteen AND month = settled_month FOR SHARE;
  RETURN COALESCE(found_status = 'approved', false);
END $$""",
    """CREATE FUNCTION eldercare_meal_orders_settled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE menu_canteen integer; menu_month text;
BEGIN
  FOR menu_canteen, menu_month IN
    SELECT canteen_id, to_char(served_on, 'YYYY-MM') FROM menus
    WHERE id = OLD.menu_id OR (TG_OP = 'UPDATE' AND id = NEW.menu_id)
  LOOP
    IF eldercare_meal_month_locked(menu_canteen, menu_month) THEN
      RAISE EXCEPTION 'meal order % is settled in the approved % statement of canteen %', OLD.id, menu_month,
        menu_canteen USING ERRCODE = '23514';
    END IF;
  END LOOP;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$""",
    f"""CREATE TRIGGER meal_orders_settled BEFORE UPDATE OF {SETTLED_COLUMNS} OR DELETE ON meal_orders
FOR EACH ROW EXECUTE FUNCTION eldercare_meal_orders_settled()""",
    """CREATE FUNCTION eldercare_meal_refunds_open_month() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF eldercare_meal_month_locked(NEW.canteen_id, NEW.month) THEN
    RAISE EXCEPTION 'the % statement of canteen % is approved: no refund is settled in it', NEW.month,
      NEW.canteen_id USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER meal_refunds_open_month BEFORE INSERT ON meal_refunds
FOR EACH ROW EXECUTE FUNCTION eldercare_meal_refunds_open_month()""",
    """CREATE FUNCTION eldercare_meal_statements_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'approved' THEN
    RAISE EXCEPTION 'meal statement % is approved and locked: % refused', OLD.id, TG_OP USING ERRCODE = '23514';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER meal_statements_locked BEFORE UPDATE OR DELETE ON meal_statements
FOR EACH ROW EXECUTE FUNCTION eldercare_meal_statements_locked()""",
    """CREATE FUNCTION eldercare_meal_statement_lines_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM meal_statements WHERE status = 'approved'
             AND id IN (CASE WHEN TG_OP = 'INSERT' THEN NEW.statement_id ELSE OLD.statement_id END)) THEN
    RAISE EXCEPTION 'meal statement lines of an approved statement: % refused', TG_OP USING ERRCODE = '23514';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER meal_statement_lines_locked BEFORE INSERT OR UPDATE OR DELETE ON meal_statement_lines
FOR EACH ROW EXECUTE FUNCTION eldercare_meal_statement_lines_locked()""",
]
PG_DOWN = [
    "DROP TRIGGER meal_statement_lines_locked ON meal_statement_lines",
    "DROP FUNCTION eldercare_meal_statement_lines_locked()",
    "DROP TRIGGER meal_statements_locked ON meal_statements",
    "DROP FUNCTION eldercare_meal_statements_locked()",
    "DROP TRIGGER meal_refunds_open_month ON meal_refunds",
    "DROP FUNCTION eldercare_meal_refunds_open_month()",
    "DROP TRIGGER meal_orders_settled ON meal_orders",
    "DROP FUNCTION eldercare_meal_orders_settled()",
    "DROP FUNCTION eldercare_meal_month_locked(integer, text)",
]


def _sqlite_refuse(name: str, event: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} BEFORE {event} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END"


def _order_month_locked(menu: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM menus JOIN meal_statements ON meal_statements.canteen_id = menus.canteen_id "
        "AND meal_statements.month = substr(menus.served_on, 1, 7) "
        f"WHERE menus.id IN ({menu}) AND meal_statements.status = 'approved')"
    )


def _statement_approved(statement: str) -> str:
    return f"EXISTS (SELECT 1 FROM meal_statements WHERE id = {statement} AND status = 'approved')"


ORDER_LOCKED = "meal order settled in an approved statement"
SQLITE_UP = [
    _sqlite_refuse(
        "meal_orders_settled_update",
        f"UPDATE OF {SETTLED_COLUMNS} ON meal_orders",
        _order_month_locked("OLD.menu_id, NEW.menu_id"),
        ORDER_LOCKED,
    ),
    _sqlite_refuse(
        "meal_orders_settled_delete", "DELETE ON meal_orders", _order_month_locked("OLD.menu_id"), ORDER_LOCKED
    ),
    _sqlite_refuse(
        "meal_refunds_open_month",
        "INSERT ON meal_refunds",
        "EXISTS (SELECT 1 FROM meal_statements WHERE canteen_id = NEW.canteen_id AND month = NEW.month "
        "AND status = 'approved')",
        "no refund is settled in an approved statement",
    ),
    *(
        _sqlite_refuse(
            f"meal_statements_locked_{event.lower()}",
            f"{event} ON meal_statements",
            "OLD.status = 'approved'",
            "an approved meal statement is locked",
        )
        for event in ("UPDATE", "DELETE")
    ),
    _sqlite_refuse(
        "meal_statement_lines_locked_insert",
        "INSERT ON meal_statement_lines",
        _statement_approved("NEW.statement_id"),
        "an approved meal statement is locked",
    ),
    *(
        _sqlite_refuse(
            f"meal_statement_lines_locked_{event.lower()}",
            f"{event} ON meal_statement_lines",
            _statement_approved("OLD.statement_id"),
            "an approved meal statement is locked",
        )
        for event in ("UPDATE", "DELETE")
    ),
]
SQLITE_DOWN = [
    f"DROP TRIGGER {name}"
    for name in (
        "meal_orders_settled_update",
        "meal_orders_settled_delete",
        "meal_refunds_open_month",
        "meal_statements_locked_update",
        "meal_statements_locked_delete",
        "meal_statement_lines_locked_insert",
        "meal_statement_lines_locked_update",
        "meal_statement_lines_locked_delete",
    )
]


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "meal_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canteen_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "digest", sa.String(length=64), nullable=False, comment="sha256 of the lines: what the revision says"
        ),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("portions", sa.Integer(), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("subsidy_fen", sa.BigInteger(), nullable=False),
        sa.Column("payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_orders", sa.Integer(), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.Column("refunded_subsidy_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("adjustments", sa.Integer(), nullable=False),
        sa.Column("adjustment_subsidy_fen", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_subsidy_fen", sa.BigInteger(), nullable=False, comment="what the canteen is paid for the month"),
        sa.Column("generated_by", sa.String(length=200), nullable=False),
        sa.Column("generated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'approved') = (approved_at IS NOT NULL AND approved_by IS NOT NULL)",
            name=op.f("ck_meal_statements_approved_when_signed"),
        ),
        sa.CheckConstraint(
            "month LIKE '____-__' AND substr(month, 6, 2) BETWEEN '01' AND '12'",
            name=op.f("ck_meal_statements_month_format"),
        ),
        sa.CheckConstraint("status IN ('draft', 'approved')", name=op.f("ck_meal_statements_status_known")),
        sa.CheckConstraint(
            "adjustment_payable_fen BETWEEN 0 AND 139500000000",
            name=op.f("ck_meal_statements_adjustment_payable_fen_bounded"),
        ),
        sa.CheckConstraint(
            "adjustment_subsidy_fen BETWEEN 0 AND 139500000000",
            name=op.f("ck_meal_statements_adjustment_subsidy_fen_bounded"),
        ),
        sa.CheckConstraint("adjustments BETWEEN 0 AND 930000", name=op.f("ck_meal_statements_adjustments_bounded")),
        sa.CheckConstraint(
            "cancelled_orders BETWEEN 0 AND 930000", name=op.f("ck_meal_statements_cancelled_orders_bounded")
        ),
        sa.CheckConstraint("gross_fen BETWEEN 0 AND 139500000000", name=op.f("ck_meal_statements_gross_fen_bounded")),
        sa.CheckConstraint(
            "net_subsidy_fen = subsidy_fen - refunded_subsidy_fen - adjustment_subsidy_fen",
            name=op.f("ck_meal_statements_net_adds_up"),
        ),
        sa.CheckConstraint(
            "net_subsidy_fen BETWEEN -139500000000 AND 139500000000",
            name=op.f("ck_meal_statements_net_subsidy_fen_bounded"),
        ),
        sa.CheckConstraint("orders BETWEEN 0 AND 930000", name=op.f("ck_meal_statements_orders_bounded")),
        sa.CheckConstraint(
            "payable_fen BETWEEN 0 AND 139500000000", name=op.f("ck_meal_statements_payable_fen_bounded")
        ),
        sa.CheckConstraint("portions BETWEEN 0 AND 2790000", name=op.f("ck_meal_statements_portions_bounded")),
        sa.CheckConstraint(
            "refunded_payable_fen BETWEEN 0 AND 139500000000",
            name=op.f("ck_meal_statements_refunded_payable_fen_bounded"),
        ),
        sa.CheckConstraint(
            "refunded_subsidy_fen BETWEEN 0 AND 139500000000",
            name=op.f("ck_meal_statements_refunded_subsidy_fen_bounded"),
        ),
        sa.CheckConstraint("refunds BETWEEN 0 AND 930000", name=op.f("ck_meal_statements_refunds_bounded")),
        sa.CheckConstraint("revision BETWEEN 1 AND 1000000", name=op.f("ck_meal_statements_revision_bounded")),
        sa.CheckConstraint(
            "subsidy_fen BETWEEN 0 AND 139500000000", name=op.f("ck_meal_statements_subsidy_fen_bounded")
        ),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_meal_statements_canteen_id_canteens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_statements")),
        sa.UniqueConstraint("canteen_id", "month", name=op.f("uq_meal_statements_canteen_id_month")),
    )
    with op.batch_alter_table("meal_statements", schema=None) as batch_op:
        batch_op.create_index("ix_meal_statements_month", ["month"], unique=False)

    op.create_table(
        "meal_statement_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=12), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("portions", sa.Integer(), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False, comment="price × portions"),
        sa.Column("subsidy_fen", sa.BigInteger(), nullable=False),
        sa.Column("payable_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "section IN ('placed', 'cancelled', 'refund', 'adjustment')",
            name=op.f("ck_meal_statement_lines_section_known"),
        ),
        sa.CheckConstraint(
            "tier IN ('tekun', 'dibao', 'dibao_marginal', 'age_80_plus', 'age_60_79', 'disability', 'none')",
            name=op.f("ck_meal_statement_lines_tier_known"),
        ),
        sa.CheckConstraint(
            "gross_fen BETWEEN 0 AND 139500000000", name=op.f("ck_meal_statement_lines_gross_fen_bounded")
        ),
        sa.CheckConstraint("orders BETWEEN 1 AND 930000", name=op.f("ck_meal_statement_lines_orders_bounded")),
        sa.CheckConstraint(
            "payable_fen BETWEEN 0 AND 139500000000", name=op.f("ck_meal_statement_lines_payable_fen_bounded")
        ),
        sa.CheckConstraint("portions BETWEEN 0 AND 2790000", name=op.f("ck_meal_statement_lines_portions_bounded")),
        sa.CheckConstraint(
            "subsidy_fen BETWEEN 0 AND 139500000000", name=op.f("ck_meal_statement_lines_subsidy_fen_bounded")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["meal_statements.id"],
            name=op.f("fk_meal_statement_lines_statement_id_meal_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_statement_lines")),
        sa.UniqueConstraint(
            "statement_id", "section", "tier", name=op.f("uq_meal_statement_lines_statement_id_section_tier")
        ),
    )
    op.create_table(
        "meal_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("canteen_id", sa.Integer(), nullable=False),
        sa.Column("order_month", sa.String(length=7), nullable=False, comment="YYYY-MM the order's meal was served in"),
        sa.Column(
            "month", sa.String(length=7), nullable=False, comment="YYYY-MM of the statement the refund is settled in"
        ),
        sa.Column("subsidy_fen", sa.Integer(), nullable=False),
        sa.Column("payable_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("refunded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "month LIKE '____-__' AND substr(month, 6, 2) BETWEEN '01' AND '12'",
            name=op.f("ck_meal_refunds_month_format"),
        ),
        sa.CheckConstraint("month >= order_month", name=op.f("ck_meal_refunds_not_before_its_order")),
        sa.CheckConstraint("payable_fen BETWEEN 0 AND 150000", name=op.f("ck_meal_refunds_payable_fen_bounded")),
        sa.CheckConstraint("subsidy_fen BETWEEN 0 AND 150000", name=op.f("ck_meal_refunds_subsidy_fen_bounded")),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_meal_refunds_canteen_id_canteens")),
        sa.ForeignKeyConstraint(["order_id"], ["meal_orders.id"], name=op.f("fk_meal_refunds_order_id_meal_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_refunds")),
        sa.UniqueConstraint("order_id", name=op.f("uq_meal_refunds_order_id")),
    )
    with op.batch_alter_table("meal_refunds", schema=None) as batch_op:
        batch_op.create_index("ix_meal_refunds_canteen_id_month", ["canteen_id", "month"], unique=False)

    # ### end Alembic commands ###
    make_append_only("meal_refunds", prefix="eldercare")
    for statement in PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    drop_append_only("meal_refunds", prefix="eldercare")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("meal_refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_refunds_canteen_id_month")

    op.drop_table("meal_refunds")
    op.drop_table("meal_statement_lines")
    with op.batch_alter_table("meal_statements", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_statements_month")

    op.drop_table("meal_statements")
    # ### end Alembic commands ###
