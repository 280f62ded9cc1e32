"""feed cursors: where eldercare is in placenames' change feed (shared/changefeed.py)

Revision ID: 3f9d2b7e6a41
Revises: e5c2a9d47b13
Create Date: 2026-12-07 00:30:00

"""

from alembic import op

from shared.changefeed import create_feed_cursors_table, drop_feed_cursors_table

# revision identifiers, used by Alembic.
revision = "3f9d2b7e6a41"
down_revision = "e5c2a9d47b13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_feed_cursors_table(op.get_bind())


def downgrade() -> None:
    drop_feed_cursors_table(op.get_bind())
