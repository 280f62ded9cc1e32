"""screening chunks: a screening's household ranges, claimed by the workers that share it (discovery/runner.py)

Revision ID: c5a9e3f17b24
Revises: 106f2c27d60d
Create Date: 2026-12-07 03:00:00

"""

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision = "c5a9e3f17b24"
down_revision = "106f2c27d60d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screening_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("after_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("lease_until", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=True),
        sa.Column("done_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done')", name=op.f("ck_screening_chunks_state_known")),
        sa.CheckConstraint("last_id > after_id AND households > 0", name=op.f("ck_screening_chunks_range_not_empty")),
        sa.CheckConstraint(
            "state <> 'running' OR (claimed_by IS NOT NULL AND lease_until IS NOT NULL)",
            name=op.f("ck_screening_chunks_claimed"),
        ),
        sa.CheckConstraint("(state = 'done') = (leads IS NOT NULL)", name=op.f("ck_screening_chunks_leads_when_done")),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["screenings.id"],
            name=op.f("fk_screening_chunks_screening_id_screenings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_chunks")),
        sa.UniqueConstraint("screening_id", "after_id", name=op.f("uq_screening_chunks_screening_id_after_id")),
    )


def downgrade() -> None:
    op.drop_table("screening_chunks")
