"""amounts and counts bounded: CHECKs of the domain bounds of prices, subsidies, capacities and balances

Revision ID: 5663f0df0229
Revises: df876fca819b
Create Date: 2026-12-06 17:55:55

"""

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "5663f0df0229"
down_revision = "df876fca819b"
branch_labels = None
depends_on = None

# The models' `bounded(...)` CHECKs (shared.db), as they were written: the same bounds as the request schemas.
CHECKS = {
    "allowance_rates": {
        "ck_allowance_rates_amount_fen_bounded": "amount_fen BETWEEN 0 AND 10000000",
    },
    "home_services": {
        "ck_home_services_price_fen_bounded": "price_fen BETWEEN 0 AND 1000000",
    },
    "meal_subsidy_rates": {
        "ck_meal_subsidy_rates_amount_fen_bounded": "amount_fen BETWEEN 0 AND 50000",
    },
    "assessments": {
        "ck_assessments_care_risk_events_30d_bounded": "care_risk_events_30d BETWEEN 0 AND 100",
    },
    "menus": {
        "ck_menus_capacity_bounded": "capacity BETWEEN 1 AND 10000",
        "ck_menus_price_fen_bounded": "price_fen BETWEEN 0 AND 50000",
    },
    "subsidy_accounts": {
        "ck_subsidy_accounts_balance_fen_bounded": "balance_fen BETWEEN 0 AND 10000000000",
    },
    "meal_orders": {
        "ck_meal_orders_payable_fen_bounded": "payable_fen BETWEEN 0 AND 150000",
        "ck_meal_orders_unit_price_fen_bounded": "unit_price_fen BETWEEN 0 AND 50000",
        "ck_meal_orders_subsidy_fen_bounded": "subsidy_fen BETWEEN 0 AND 150000",
    },
    "visits": {
        "ck_visits_price_fen_bounded": "price_fen BETWEEN 0 AND 1000000",
    },
    "subsidy_entries": {
        "ck_subsidy_entries_amount_fen_bounded": "amount_fen BETWEEN -10000000000 AND 10000000000",
        "ck_subsidy_entries_balance_after_fen_bounded": "balance_after_fen BETWEEN 0 AND 10000000000",
    },
}


def upgrade() -> None:
    add_checks(CHECKS)


def downgrade() -> None:
    drop_checks(CHECKS)
