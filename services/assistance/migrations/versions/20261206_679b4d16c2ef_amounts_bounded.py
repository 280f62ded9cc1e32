"""amounts bounded: CHECKs of the domain bounds of assets, medical expenses, signals and policy values

Incomes are encrypted at rest: no CHECK can read them, their bound is the schema's alone.

Revision ID: 679b4d16c2ef
Revises: b81e5f0c7a93
Create Date: 2026-12-06 17:56:41

"""

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "679b4d16c2ef"
down_revision = "b81e5f0c7a93"
branch_labels = None
depends_on = None

# The models' `bounded(...)` CHECKs (shared.db), as they were written: the same bounds as the request schemas.
CHECKS = {
    "policy_versions": {
        "ck_policy_versions_value_bounded": "value BETWEEN 0 AND 1000000000000",
    },
    "signals": {
        "ck_signals_amount_fen_bounded": "amount_fen BETWEEN 0 AND 1000000000",
    },
    "assets": {
        "ck_assets_value_fen_bounded": "value_fen BETWEEN 0 AND 1000000000000",
    },
    "medical_expenses": {
        "ck_medical_expenses_amount_fen_bounded": "amount_fen BETWEEN 0 AND 12000000000",
    },
}


def upgrade() -> None:
    add_checks(CHECKS)


def downgrade() -> None:
    drop_checks(CHECKS)
