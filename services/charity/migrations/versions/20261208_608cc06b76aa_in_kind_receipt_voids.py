"""in-kind receipt voids: a non-cash gift's receipts as a chain, so a voided one can be followed by a new one

Receipts of non-cash gifts (物资) could not be voided (作废), and in_kind_receipts was keyed by the gift, so a gift
whose receipt was voided could never be receipted again. The key becomes (gift, receipt), and each later row names
the voided receipt of the same gift it follows (`replaces_receipt_id`), unique per gift, so at most one row per
gift is live; existing rows are each their gift's first.

Revision ID: 608cc06b76aa
Revises: b45fe50fd740
Create Date: 2026-12-08 01:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "608cc06b76aa"
down_revision = "b45fe50fd740"
branch_labels = None
depends_on = None

TABLE = "in_kind_receipts"
FIRST = sa.text("replaces_receipt_id IS NULL")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _triggers_aside() -> list[tuple[str, str]]:
    """in_kind_receipts is append-only by trigger. SQLite: every trigger is set aside while batch mode rebuilds the
    table (renaming it breaks a trigger that names it), put back by the caller; PostgreSQL: the table's trigger is
    disabled (the downgrade deletes rows)."""
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


def upgrade() -> None:
    triggers = _triggers_aside()
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint("pk_in_kind_receipts", type_="primary")
        batch.create_primary_key("pk_in_kind_receipts", ["gift_id", "receipt_id"])
        batch.add_column(sa.Column("replaces_receipt_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_in_kind_receipts_gift_id_replaces_receipt_id"), ["gift_id", "replaces_receipt_id"]
        )
        batch.create_index(
            "uq_in_kind_receipts_first", ["gift_id"], unique=True, postgresql_where=FIRST, sqlite_where=FIRST
        )
        batch.create_foreign_key(
            op.f("fk_in_kind_receipts_replaces_receipt_id_receipt_voids"),
            "receipt_voids",
            ["replaces_receipt_id"],
            ["receipt_id"],
        )
        batch.create_foreign_key(
            op.f("fk_in_kind_receipts_gift_id_in_kind_receipts"),
            TABLE,
            ["gift_id", "replaces_receipt_id"],
            ["gift_id", "receipt_id"],
        )
    _triggers_back(triggers)


def downgrade() -> None:
    triggers = _triggers_aside()
    with op.batch_alter_table(TABLE) as batch:  # first: the rows they tie are deleted below
        batch.drop_constraint(op.f("fk_in_kind_receipts_gift_id_in_kind_receipts"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_in_kind_receipts_replaces_receipt_id_receipt_voids"), type_="foreignkey")
    # Keyed by the gift again: each gift keeps its chain's last receipt (its live one, or its last voided one).
    op.execute(f"DELETE FROM {TABLE} WHERE receipt_id NOT IN (SELECT max(receipt_id) FROM {TABLE} GROUP BY gift_id)")
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_index("uq_in_kind_receipts_first")
        batch.drop_constraint(op.f("uq_in_kind_receipts_gift_id_replaces_receipt_id"), type_="unique")
        batch.drop_column("replaces_receipt_id")
        batch.drop_constraint("pk_in_kind_receipts", type_="primary")
        batch.create_primary_key("pk_in_kind_receipts", ["gift_id"])
    _triggers_back(triggers)
