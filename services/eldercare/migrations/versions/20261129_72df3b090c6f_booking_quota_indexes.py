"""booking quota indexes

Per-resident booking quotas count a resident's live meal orders, bed holds and open visits in the booking's
transaction (services/eldercare/quotas.py): an index on who placed each, so the count stays a small lookup.

Revision ID: 72df3b090c6f
Revises: 0643310fcef6
Create Date: 2026-11-29 14:00:00
"""

from typing import Sequence, Union

from alembic import op


revision: str = "72df3b090c6f"
down_revision: Union[str, Sequence[str], None] = "0643310fcef6"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = [
    ("meal_orders", "ix_meal_orders_placed_by", "placed_by"),
    ("bed_occupancies", "ix_bed_occupancies_created_by", "created_by"),
    ("visits", "ix_visits_ordered_by", "ordered_by"),
]


def upgrade() -> None:
    for table, name, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for table, name, _column in INDEXES:
        op.drop_index(name, table_name=table)
