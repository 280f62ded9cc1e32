"""amounts and counts bounded: every money and count column has a CHECK of its domain bound

Revision ID: 66b5ce8a48b5
Revises: c4a7e2d91f35
Create Date: 2026-12-06 17:50:20

"""

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "66b5ce8a48b5"
down_revision = "c4a7e2d91f35"
branch_labels = None
depends_on = None

# The models' `bounded(...)` CHECKs (shared.db), as they were written: the same bounds as the request schemas.
CHECKS = {
    "district_community_counts": {
        "ck_district_community_counts_communities_bounded": "communities BETWEEN 1 AND 100000",
    },
    "needs": {
        "ck_needs_quantity_bounded": "quantity BETWEEN 1 AND 1000000000",
    },
    "resource_offers": {
        "ck_resource_offers_quantity_bounded": "quantity BETWEEN 1 AND 1000000000",
    },
    "trusts": {
        "ck_trusts_scale_fen_bounded": "scale_fen BETWEEN 1 AND 10000000000000",
    },
    "community_funds": {
        "ck_community_funds_initial_scale_fen_bounded": "initial_scale_fen BETWEEN 0 AND 10000000000000",
    },
    "matches": {
        "ck_matches_quantity_bounded": "quantity BETWEEN 1 AND 1000000000",
    },
    "projects": {
        "ck_projects_beneficiary_count_bounded": "beneficiary_count BETWEEN 1 AND 100000000",
        "ck_projects_target_fen_bounded": "target_fen BETWEEN 1 AND 10000000000000",
    },
    "trust_reports": {
        "ck_trust_reports_year_end_scale_fen_bounded": "year_end_scale_fen BETWEEN 0 AND 10000000000000",
        "ck_trust_reports_spent_fen_bounded": "spent_fen BETWEEN 0 AND 10000000000000",
    },
    "in_kind_donations": {
        "ck_in_kind_donations_valuation_fen_bounded": "valuation_fen BETWEEN 1 AND 10000000000000",
        "ck_in_kind_donations_quantity_bounded": "quantity BETWEEN 1 AND 1000000000",
    },
    "project_budget_lines": {
        "ck_project_budget_lines_amount_fen_bounded": "amount_fen BETWEEN 1 AND 10000000000000",
    },
    "campaign_units": {
        "ck_campaign_units_headcount_bounded": "headcount BETWEEN 1 AND 1000000",
    },
    "in_kind_dispositions": {
        "ck_in_kind_dispositions_proceeds_fen_bounded": "proceeds_fen BETWEEN 0 AND 10000000000000",
        "ck_in_kind_dispositions_quantity_bounded": "quantity BETWEEN 1 AND 1000000000",
    },
    "disbursements": {
        "ck_disbursements_amount_fen_bounded": "amount_fen BETWEEN 1 AND 10000000000000",
    },
    "donations": {
        "ck_donations_amount_fen_bounded": "amount_fen BETWEEN 1 AND 10000000000",
    },
    "ledger_entries": {
        "ck_ledger_entries_amount_fen_bounded": "amount_fen BETWEEN -10000000000000 AND 10000000000000",
    },
    "donation_refunds": {
        "ck_donation_refunds_amount_fen_bounded": "amount_fen BETWEEN 1 AND 10000000000",
    },
    "payroll_batches": {
        "ck_payroll_batches_row_count_bounded": "row_count BETWEEN 1 AND 1000000",
        "ck_payroll_batches_total_fen_bounded": "total_fen BETWEEN 1 AND 10000000000",
    },
    "payroll_rows": {
        "ck_payroll_rows_amount_fen_bounded": "amount_fen BETWEEN 1 AND 10000000000",
    },
}


def upgrade() -> None:
    add_checks(CHECKS)


def downgrade() -> None:
    drop_checks(CHECKS)
