"""subsidy accounts: tier and level checked, as the allowance rates' are

The account's tier and capability level pick its monthly allowance; the schema bounded them (AccountIn) but the
table took any value, so a row written past the API (an import, a script) could carry level 7 or tier 'vip'. The
same CHECKs as allowance_rates now hold them (NOT VALID on PostgreSQL: rows already there are not re-checked).

Revision ID: 4b8e2f6c1a93
Revises: 9c4e7a1d2b36
Create Date: 2026-12-08 01:25:00

"""

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "4b8e2f6c1a93"
down_revision = "9c4e7a1d2b36"
branch_labels = None
depends_on = None

CHECKS = {
    "subsidy_accounts": {
        "ck_subsidy_accounts_tier_known": "tier IN ('tekun', 'dibao', 'dibao_marginal', 'age_80_plus', 'age_60_79')",
        "ck_subsidy_accounts_level_range": "level BETWEEN 0 AND 4",
        "ck_subsidy_accounts_tier_basis_known": "tier_basis IN ('live', 'fallback')",
    },
}


def upgrade() -> None:
    add_checks(CHECKS)


def downgrade() -> None:
    drop_checks(CHECKS)
