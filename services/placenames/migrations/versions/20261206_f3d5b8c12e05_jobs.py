"""jobs: the queue of the service's worker processes (shared/jobs.py)

Revision ID: f3d5b8c12e05
Revises: 492b8c218e40
Create Date: 2026-12-06 20:30:00

"""

from alembic import op

from shared.migrations import create_jobs_table, drop_jobs_table

# revision identifiers, used by Alembic.
revision = "f3d5b8c12e05"
down_revision = "492b8c218e40"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_jobs_table(op.get_bind())


def downgrade() -> None:
    drop_jobs_table(op.get_bind())
