"""jobs: the queue of the service's worker processes (shared/jobs.py)

Revision ID: e6c2a9b47d04
Revises: b7c3e05d9a41
Create Date: 2026-12-06 20:30:00

"""

from alembic import op

from shared.migrations import create_jobs_table, drop_jobs_table

# revision identifiers, used by Alembic.
revision = "e6c2a9b47d04"
down_revision = "b7c3e05d9a41"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_jobs_table(op.get_bind())


def downgrade() -> None:
    drop_jobs_table(op.get_bind())
