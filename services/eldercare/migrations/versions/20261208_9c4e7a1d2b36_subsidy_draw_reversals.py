"""subsidy draw reversals: a visit corrected to flagged gives its draw back, by an entry added, never a row changed

A draw was unique per visit (uq_subsidy_entries_visit_id) and never reversed, so a verified visit corrected to
flagged kept drawing the person's home-care subsidy. A visit's draws and reversals are now numbered in turn
(visit_seq: odd a draw, even the reversal of the draw before it), unique per visit, each after the one before it
(prev_seq, a foreign key to the same visit's entry): a visit has at most one live draw. The ledger is append-only.

Revision ID: 9c4e7a1d2b36
Revises: 760041d86fe1
Create Date: 2026-12-08 01:10:00

"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import sqlite_triggers_set_aside, add_checks, drop_append_only, drop_checks, make_append_only

# revision identifiers, used by Alembic.
revision = "9c4e7a1d2b36"
down_revision = "760041d86fe1"
branch_labels = None
depends_on = None

OLD_CHECKS = {
    "subsidy_entries": {
        "ck_subsidy_entries_kind_known": "kind IN ('allowance', 'draw', 'adjustment')",
        "ck_subsidy_entries_sign_by_kind": (
            "(kind = 'allowance' AND amount_fen >= 0) OR (kind = 'draw' AND amount_fen <= 0) OR kind = 'adjustment'"
        ),
    }
}
NEW_CHECKS = {
    "subsidy_entries": {
        "ck_subsidy_entries_kind_known": "kind IN ('allowance', 'draw', 'reversal', 'adjustment')",
        "ck_subsidy_entries_sign_by_kind": (
            "(kind = 'allowance' AND amount_fen >= 0) OR (kind = 'draw' AND amount_fen <= 0)"
            " OR (kind = 'reversal' AND amount_fen >= 0) OR kind = 'adjustment'"
        ),
        "ck_subsidy_entries_visit_seq_bounded": "visit_seq BETWEEN 1 AND 10000",
        "ck_subsidy_entries_visit_entries_numbered": (
            "(kind IN ('draw', 'reversal') AND visit_id IS NOT NULL AND visit_seq IS NOT NULL)"
            " OR (kind NOT IN ('draw', 'reversal') AND visit_id IS NULL AND visit_seq IS NULL)"
        ),
        "ck_subsidy_entries_draws_odd_reversals_even": (
            "visit_seq IS NULL OR (kind = 'draw' AND visit_seq % 2 = 1) OR (kind = 'reversal' AND visit_seq % 2 = 0)"
        ),
        "ck_subsidy_entries_prev_seq_before": (
            "(prev_seq IS NULL AND (visit_seq IS NULL OR visit_seq = 1))"
            " OR (visit_seq > 1 AND prev_seq IS NOT NULL AND prev_seq = visit_seq - 1)"
        ),
    }
}


def upgrade() -> None:
    with sqlite_triggers_set_aside(), op.batch_alter_table("subsidy_entries") as batch:
        batch.add_column(sa.Column("visit_seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_seq", sa.Integer(), nullable=True))
    # Every draw so far is its visit's first and only one.
    op.execute("UPDATE subsidy_entries SET visit_seq = 1 WHERE kind = 'draw' AND visit_id IS NOT NULL")
    with sqlite_triggers_set_aside(), op.batch_alter_table("subsidy_entries") as batch:
        batch.drop_index("uq_subsidy_entries_visit_id")
        batch.create_unique_constraint("uq_subsidy_entries_visit_id_visit_seq", ["visit_id", "visit_seq"])
        batch.create_foreign_key(
            "fk_subsidy_entries_visit_id_subsidy_entries",
            "subsidy_entries",
            ["visit_id", "prev_seq"],
            ["visit_id", "visit_seq"],
        )
    drop_checks(OLD_CHECKS)
    add_checks(NEW_CHECKS)
    make_append_only("subsidy_entries", prefix="eldercare")


def downgrade() -> None:
    redrawn = op.get_bind().execute(sa.text("SELECT count(*) FROM subsidy_entries WHERE visit_seq > 1")).scalar()
    if redrawn:
        raise RuntimeError(f"{redrawn} subsidy entries reverse or redraw a visit; the old schema cannot hold them")
    drop_append_only("subsidy_entries", prefix="eldercare")
    drop_checks(NEW_CHECKS)
    add_checks(OLD_CHECKS)
    with sqlite_triggers_set_aside(), op.batch_alter_table("subsidy_entries") as batch:
        batch.drop_constraint("fk_subsidy_entries_visit_id_subsidy_entries", type_="foreignkey")
        batch.drop_constraint("uq_subsidy_entries_visit_id_visit_seq", type_="unique")
        batch.create_index("uq_subsidy_entries_visit_id", ["visit_id"], unique=True)
        batch.drop_column("prev_seq")
        batch.drop_column("visit_seq")
