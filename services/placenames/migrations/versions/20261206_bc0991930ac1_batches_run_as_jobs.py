"""batches run as jobs: a batch standardisation is worked through by the `batch.standardise` job of the
worker processes, whose lease replaces the batch's own `lease_until`

Batches left unfinished by the API processes that ran them before get their job here, so a worker picks
them up from their first pending line.

Revision ID: bc0991930ac1
Revises: f3d5b8c12e05
Create Date: 2026-12-06 21:00:00

"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision = "bc0991930ac1"
down_revision = "f3d5b8c12e05"
branch_labels = None
depends_on = None

jobs = sa.table(
    "jobs",
    sa.column("task", sa.String),
    sa.column("args", sa.JSON),
    sa.column("status", sa.String),
    sa.column("progress", sa.Integer),
    sa.column("attempts", sa.Integer),
    sa.column("max_attempts", sa.Integer),
    sa.column("run_after", shared.db.UTCDateTime()),
    sa.column("cancel_requested", sa.Boolean),
    sa.column("created_at", shared.db.UTCDateTime()),
)
batch_jobs = sa.table("batch_jobs", sa.column("id", sa.String), sa.column("status", sa.String))


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC)
    unfinished = op.get_bind().execute(sa.select(batch_jobs.c.id).where(batch_jobs.c.status != "done")).scalars()
    rows = [
        dict(
            task="batch.standardise",
            args={"batch_id": batch_id},
            status="queued",
            progress=0,
            attempts=0,
            max_attempts=3,
            run_after=now,
            cancel_requested=False,
            created_at=now,
        )
        for batch_id in unfinished
    ]
    if rows:
        op.bulk_insert(jobs, rows)
    op.drop_column("batch_jobs", "lease_until")


def downgrade() -> None:
    op.add_column("batch_jobs", sa.Column("lease_until", shared.db.UTCDateTime(timezone=True), nullable=True))
