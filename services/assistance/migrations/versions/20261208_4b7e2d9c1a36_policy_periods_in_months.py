"""policy periods in months: a policy parameter may be a number of whole months (income_assessment_months)

The unit check admits `months`, and a version in months is 1 to 12 (0 would divide the period's income by
nothing).

Revision ID: 4b7e2d9c1a36
Revises: c5a9e3f17b24
Create Date: 2026-12-08 01:20:00

"""

from alembic import op

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "4b7e2d9c1a36"
down_revision = "c5a9e3f17b24"
branch_labels = None
depends_on = None

OLD_UNITS = {
    "policy_versions": {"ck_policy_versions_unit_known": "unit IN ('fen', 'fen_per_month', 'fen_per_year', 'permille')"}
}
NEW_CHECKS = {
    "policy_versions": {
        "ck_policy_versions_unit_known": "unit IN ('fen', 'fen_per_month', 'fen_per_year', 'permille', 'months')",
        "ck_policy_versions_months_range": "unit <> 'months' OR value BETWEEN 1 AND 12",
    }
}


def upgrade() -> None:
    drop_checks(OLD_UNITS)
    add_checks(NEW_CHECKS)


def downgrade() -> None:
    # The code before this revision knows no parameter in months: its versions go with the unit.
    op.execute("DELETE FROM policy_versions WHERE unit = 'months'")
    drop_checks(NEW_CHECKS)
    add_checks(OLD_UNITS)
