"""batch counts bounded: a batch job's line counts have a CHECK of the batch's bound

Revision ID: 492b8c218e40
Revises: 5b1e7c3a9d20
Create Date: 2026-12-06 17:56:09

"""

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "492b8c218e40"
down_revision = "5b1e7c3a9d20"
branch_labels = None
depends_on = None

# The models' `bounded(...)` CHECKs (shared.db), as they were written: the same bounds as the request schemas.
CHECKS = {
    "batch_jobs": {
        "ck_batch_jobs_bad_lines_bounded": "bad_lines BETWEEN 0 AND 100000",
        "ck_batch_jobs_total_lines_bounded": "total_lines BETWEEN 0 AND 100000",
        "ck_batch_jobs_matched_lines_bounded": "matched_lines BETWEEN 0 AND 100000",
    },
}


def upgrade() -> None:
    add_checks(CHECKS)


def downgrade() -> None:
    drop_checks(CHECKS)
