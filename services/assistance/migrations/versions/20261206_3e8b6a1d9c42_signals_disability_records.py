"""signals keep a disability record's grade and kind (残联), which the re-evaluation applies to the member

Revision ID: 3e8b6a1d9c42
Revises: 679b4d16c2ef
Create Date: 2026-12-06 18:45:00

"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "3e8b6a1d9c42"
down_revision = "679b4d16c2ef"
branch_labels = None
depends_on = None

# Disability records received before carry neither: every check holds for them.
CHECKS = {
    "signals": {
        "ck_signals_disability_grade_with_kind": "(disability_grade IS NULL) = (disability_kind IS NULL)",
        "ck_signals_disability_of_a_record": "disability_grade IS NULL OR kind = 'disability_record'",
        "ck_signals_disability_grade_bounded": "disability_grade BETWEEN 1 AND 4",
    },
}


def upgrade() -> None:
    op.add_column("signals", sa.Column("disability_grade", sa.SmallInteger(), nullable=True))
    op.add_column("signals", sa.Column("disability_kind", sa.String(length=16), nullable=True))
    add_checks(CHECKS)


def downgrade() -> None:
    drop_checks(CHECKS)
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("disability_kind")
        batch.drop_column("disability_grade")
