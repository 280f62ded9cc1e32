"""notification outbox: notifications and their deliveries (shared/notifications.py)

Revision ID: 106f2c27d60d
Revises: 8b4e1c6d2f57
Create Date: 2026-12-07 00:00:00

"""

from alembic import op

from shared.migrations import create_outbox_tables, drop_outbox_tables

# revision identifiers, used by Alembic.
revision = "106f2c27d60d"
down_revision = "8b4e1c6d2f57"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables(op.get_bind())


def downgrade() -> None:
    drop_outbox_tables(op.get_bind())
