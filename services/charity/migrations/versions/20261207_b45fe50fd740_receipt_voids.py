"""receipt voids: a receipt voided (作废) with when and why, and a donation's receipts as a chain

A refund left the receipt for the money standing. A void is a row of its own (receipts are append-only; the
receipt keeps its number). donation_receipts was keyed by the donation, so a donation whose receipt was voided
could never be receipted again: it gets an id, and each later row names the voided receipt of the same donation
it follows (`replaces_receipt_id`), unique per donation, so at most one row per donation is live.

Revision ID: b45fe50fd740
Revises: e8b1d4f6a2c9
Create Date: 2026-12-07 22:30:00

"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

# revision identifiers, used by Alembic.
revision = "b45fe50fd740"
down_revision = "e8b1d4f6a2c9"
branch_labels = None
depends_on = None

TABLE = "donation_receipts"
FIRST = sa.text("replaces_receipt_id IS NULL")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _triggers_aside() -> list[tuple[str, str]]:
    """donation_receipts is append-only by trigger. SQLite: every trigger is set aside while batch mode rebuilds
    the table (renaming it breaks a trigger that names it), put back by the caller; PostgreSQL: the table's
    trigger is disabled (the downgrade deletes rows)."""
    if _postgresql():
        op.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_append_only")
        return []
    triggers = op.get_bind().execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
    for name, _sql in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    return triggers


def _triggers_back(triggers: list[tuple[str, str]]) -> None:
    if _postgresql():
        op.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TABLE}_append_only")
    for _name, sql in triggers:
        op.execute(sql)


def _voids_append_only() -> None:
    if _postgresql():  # charity_refuse_change() comes with the ledger's revision
        op.execute(
            "CREATE TRIGGER receipt_voids_append_only BEFORE UPDATE OR DELETE ON receipt_voids "
            "FOR EACH ROW EXECUTE FUNCTION charity_refuse_change()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER receipt_voids_no_{action.lower()} BEFORE {action} ON receipt_voids "
            "BEGIN SELECT RAISE(ABORT, 'receipt_voids is append-only'); END"
        )


def _voids_changeable() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER receipt_voids_append_only ON receipt_voids")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER receipt_voids_no_{action}")


def upgrade() -> None:
    op.create_table(
        "receipt_voids",
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("voided_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("voided_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["receipt_id"], ["receipts.id"], name=op.f("fk_receipt_voids_receipt_id_receipts")),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["donation_refunds.id"], name=op.f("fk_receipt_voids_refund_id_donation_refunds")
        ),
        sa.PrimaryKeyConstraint("receipt_id", name=op.f("pk_receipt_voids")),
    )
    op.create_index(op.f("ix_receipt_voids_refund_id"), "receipt_voids", ["refund_id"])
    _voids_append_only()

    triggers = _triggers_aside()
    if _postgresql():
        # Existing rows are numbered as they come: each is its donation's only row, so its chain's first.
        op.execute(f"ALTER TABLE {TABLE} ADD COLUMN id SERIAL NOT NULL")
        op.drop_constraint("pk_donation_receipts", TABLE, type_="primary")
        op.create_primary_key("pk_donation_receipts", TABLE, ["id"])
    with op.batch_alter_table(TABLE) as batch:
        if not _postgresql():  # the rebuilt table's INTEGER PRIMARY KEY numbers the copied rows
            batch.add_column(sa.Column("id", sa.Integer(), nullable=False))
            batch.drop_constraint("pk_donation_receipts", type_="primary")
            batch.create_primary_key("pk_donation_receipts", ["id"])
        batch.add_column(sa.Column("replaces_receipt_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_donation_receipts_donation_id_receipt_id"), ["donation_id", "receipt_id"]
        )
        batch.create_unique_constraint(
            op.f("uq_donation_receipts_donation_id_replaces_receipt_id"), ["donation_id", "replaces_receipt_id"]
        )
        batch.create_index(
            "uq_donation_receipts_first", ["donation_id"], unique=True, postgresql_where=FIRST, sqlite_where=FIRST
        )
        batch.create_foreign_key(
            op.f("fk_donation_receipts_replaces_receipt_id_receipt_voids"),
            "receipt_voids",
            ["replaces_receipt_id"],
            ["receipt_id"],
        )
        batch.create_foreign_key(
            op.f("fk_donation_receipts_donation_id_donation_receipts"),
            TABLE,
            ["donation_id", "replaces_receipt_id"],
            ["donation_id", "receipt_id"],
        )
    _triggers_back(triggers)


def downgrade() -> None:
    _voids_changeable()
    triggers = _triggers_aside()
    with op.batch_alter_table(TABLE) as batch:  # first: the rows they tie are deleted below
        batch.drop_constraint(op.f("fk_donation_receipts_donation_id_donation_receipts"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_donation_receipts_replaces_receipt_id_receipt_voids"), type_="foreignkey")
    # Keyed by the donation again: each donation keeps its chain's last row (its live receipt or decline, or
    # its last voided receipt, which reads as issued once the voids are gone).
    op.execute(f"DELETE FROM {TABLE} WHERE id NOT IN (SELECT max(id) FROM {TABLE} GROUP BY donation_id)")
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_index("uq_donation_receipts_first")
        batch.drop_constraint(op.f("uq_donation_receipts_donation_id_replaces_receipt_id"), type_="unique")
        batch.drop_constraint(op.f("uq_donation_receipts_donation_id_receipt_id"), type_="unique")
        batch.drop_column("replaces_receipt_id")
        batch.drop_constraint("pk_donation_receipts", type_="primary")
        batch.create_primary_key("pk_donation_receipts", ["donation_id"])
        batch.drop_column("id")
    _triggers_back(triggers)
    op.drop_index(op.f("ix_receipt_voids_refund_id"), table_name="receipt_voids")
    op.drop_table("receipt_voids")
