"""screenings run by worker jobs: the job that runs a screening; its own heartbeat goes (the job's lease replaces it)

Revision ID: 9372eed71664
Revises: d4b8f2a61c03
Create Date: 2026-12-06 20:50:00

"""

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision = "9372eed71664"
down_revision = "d4b8f2a61c03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("screenings", sa.Column("job_id", sa.Integer(), nullable=True))
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose the triggers on it.
    op.execute("ALTER TABLE screenings DROP COLUMN heartbeat_at")


def downgrade() -> None:
    op.add_column("screenings", sa.Column("heartbeat_at", shared.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("ALTER TABLE screenings DROP COLUMN job_id")
