"""feed cursors: where charity is in placenames' change feed (shared/changefeed.py)

Revision ID: 5c7a9e3b1d68
Revises: a9e4c7d25b16
Create Date: 2026-12-07 00:30:00

"""

from alembic import op

from shared.changefeed import create_feed_cursors_table, drop_feed_cursors_table

# revision identifiers, used by Alembic.
revision = "5c7a9e3b1d68"
down_revision = "a9e4c7d25b16"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_feed_cursors_table(op.get_bind())


def downgrade() -> None:
    drop_feed_cursors_table(op.get_bind())
