"""lead closures: outcome, reason, application, who and when

Revision ID: b3f9d07c61e2
Revises: e5a2c8d4f170
Create Date: 2026-11-29 14:20:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db

revision: str = "b3f9d07c61e2"
down_revision: Union[str, Sequence[str], None] = "e5a2c8d4f170"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The batch rebuild of `leads` on SQLite cannot carry an expression index over (it cannot reflect one): it is
# dropped first and made again afterwards, as its own migration (ad08fcd15515) made it.
TARGET_INDEX = "uq_leads_screening_target"


def _drop_target_index() -> None:
    op.drop_index(TARGET_INDEX, table_name="leads")


def _create_target_index() -> None:
    op.create_index(
        TARGET_INDEX,
        "leads",
        ["screening_id", "household_id", "programme", sa.text("coalesce(member_id, 0)")],
        unique=True,
    )


def upgrade() -> None:
    _drop_target_index()
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("closing_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("closed_at", shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_leads_application_id_applications"),
            "applications",
            ["application_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_check_constraint(
            "outcome_known", "outcome IS NULL OR outcome IN ('applied', 'not_eligible', 'declined', 'duplicate')"
        )
        batch_op.create_check_constraint(
            "closed_with_outcome",
            "(state = 'closed') = (outcome IS NOT NULL AND closed_by IS NOT NULL AND "
            "closed_at IS NOT NULL AND closing_reason IS NOT NULL)",
        )
        batch_op.create_check_constraint(
            "application_when_applied", "(application_id IS NOT NULL) = (coalesce(outcome, '') = 'applied')"
        )
        batch_op.create_index(
            "ix_leads_closed",
            ["household_id", "programme"],
            unique=False,
            postgresql_where=sa.text("state = 'closed'"),
            sqlite_where=sa.text("state = 'closed'"),
        )
    _create_target_index()


def downgrade() -> None:
    _drop_target_index()
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_closed")
        batch_op.drop_constraint("application_when_applied", type_="check")
        batch_op.drop_constraint("closed_with_outcome", type_="check")
        batch_op.drop_constraint("outcome_known", type_="check")
        batch_op.drop_constraint(batch_op.f("fk_leads_application_id_applications"), type_="foreignkey")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closed_by")
        batch_op.drop_column("application_id")
        batch_op.drop_column("closing_reason")
        batch_op.drop_column("outcome")
    _create_target_index()
