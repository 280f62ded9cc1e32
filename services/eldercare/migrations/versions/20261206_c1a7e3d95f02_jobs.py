"""jobs: the queue of the service's worker processes (shared/jobs.py)

Revision ID: c1a7e3d95f02
Revises: b2e4f6a8c0d1
Create Date: 2026-12-06 20:30:00

"""

from alembic import op

from shared.migrations import create_jobs_table, drop_jobs_table

# revision identifiers, used by Alembic.
revision = "c1a7e3d95f02"
down_revision = "b2e4f6a8c0d1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_jobs_table(op.get_bind())


def downgrade() -> None:
    drop_jobs_table(op.get_bind())
