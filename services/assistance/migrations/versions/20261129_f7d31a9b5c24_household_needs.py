"""household needs recorded on visits (matched with the derived ones to catalogue services)

Revision ID: f7d31a9b5c24
Revises: 8c1e4b7f2a90
Create Date: 2026-11-29 15:00:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db

revision: str = "f7d31a9b5c24"
down_revision: Union[str, Sequence[str], None] = "8c1e4b7f2a90"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "household_needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("need", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "need IN ('older_person', 'lives_alone_or_elderly_couple', 'disability', 'severe_disability', "
            "'child', 'student', 'low_income', 'unable_to_work', 'housing', 'psychological', 'daily_care', "
            "'employment')",
            name=op.f("ck_household_needs_need_known"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_household_needs_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_needs")),
        sa.UniqueConstraint("household_id", "need", name=op.f("uq_household_needs_household_id_need")),
    )


def downgrade() -> None:
    op.drop_table("household_needs")
