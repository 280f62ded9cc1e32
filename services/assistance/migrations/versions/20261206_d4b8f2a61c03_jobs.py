"""jobs: the queue of the service's worker processes (shared/jobs.py)

Revision ID: d4b8f2a61c03
Revises: 3e8b6a1d9c42
Create Date: 2026-12-06 20:30:00

"""

from alembic import op

from shared.migrations import create_jobs_table, drop_jobs_table

# revision identifiers, used by Alembic.
revision = "d4b8f2a61c03"
down_revision = "3e8b6a1d9c42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_jobs_table(op.get_bind())


def downgrade() -> None:
    drop_jobs_table(op.get_bind())
