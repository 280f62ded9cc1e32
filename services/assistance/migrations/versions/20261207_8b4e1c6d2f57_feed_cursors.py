"""feed cursors: where assistance is in placenames' change feed (shared/changefeed.py)

Revision ID: 8b4e1c6d2f57
Revises: f3d8b1c62a57
Create Date: 2026-12-07 00:30:00

"""

from alembic import op

from shared.changefeed import create_feed_cursors_table, drop_feed_cursors_table

# revision identifiers, used by Alembic.
revision = "8b4e1c6d2f57"
down_revision = "f3d8b1c62a57"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_feed_cursors_table(op.get_bind())


def downgrade() -> None:
    drop_feed_cursors_table(op.get_bind())
