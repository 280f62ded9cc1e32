"""care link requests

Residents ask to act for an older person; staff of the person's area approve or reject. One pending request
per resident and ID number (partial unique index on the blind index).

Revision ID: 0643310fcef6
Revises: ac10dbd32047
Create Date: 2026-11-29 13:50:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


revision: str = "0643310fcef6"
down_revision: Union[str, Sequence[str], None] = "ac10dbd32047"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "care_link_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("id_number", sa.String(length=500), nullable=False),
        sa.Column("id_number_index", sa.String(length=64), nullable=False),
        sa.Column("stated_name", sa.String(length=50), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_care_link_requests_status_known")
        ),
        sa.CheckConstraint(
            "status <> 'approved' OR elder_id IS NOT NULL", name=op.f("ck_care_link_requests_approved_has_elder")
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name=op.f("ck_care_link_requests_decided_when_not_pending")
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_care_link_requests_elder_id_elders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_link_requests")),
    )
    with op.batch_alter_table("care_link_requests", schema=None) as batch_op:
        batch_op.create_index("ix_care_link_requests_elder_id", ["elder_id"], unique=False)
        batch_op.create_index(
            "uq_care_link_requests_requester_pending",
            ["requester", "id_number_index"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("care_link_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_link_requests_requester_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_care_link_requests_elder_id")

    op.drop_table("care_link_requests")
