"""medical expenses: rigid medical expenses of members, with their source (支出型 assessment)

Revision ID: e5a2c8d4f170
Revises: 5717a12db7cc
Create Date: 2026-11-29 14:40:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db

revision: str = "e5a2c8d4f170"
down_revision: Union[str, Sequence[str], None] = "5717a12db7cc"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "medical_expenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("months", sa.SmallInteger(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("source_kind", sa.String(length=12), nullable=False),
        sa.Column("source_name", sa.String(length=100), nullable=False),
        sa.Column("source_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source_kind IN ('department', 'applicant')", name=op.f("ck_medical_expenses_source_kind_known")
        ),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_medical_expenses_amount_not_negative")),
        sa.CheckConstraint("months BETWEEN 1 AND 12", name=op.f("ck_medical_expenses_months_range")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_medical_expenses_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_medical_expenses_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_expenses")),
    )
    with op.batch_alter_table("medical_expenses", schema=None) as batch_op:
        batch_op.create_index("ix_medical_expenses_household_id", ["household_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("medical_expenses", schema=None) as batch_op:
        batch_op.drop_index("ix_medical_expenses_household_id")
    op.drop_table("medical_expenses")
