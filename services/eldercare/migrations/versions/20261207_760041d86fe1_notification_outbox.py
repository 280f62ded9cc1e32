"""notification outbox: notifications and their deliveries (shared/notifications.py)

Revision ID: 760041d86fe1
Revises: 3f9d2b7e6a41
Create Date: 2026-12-07 00:00:00

"""

from alembic import op

from shared.migrations import create_outbox_tables, drop_outbox_tables

# revision identifiers, used by Alembic.
revision = "760041d86fe1"
down_revision = "3f9d2b7e6a41"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables(op.get_bind())


def downgrade() -> None:
    drop_outbox_tables(op.get_bind())
