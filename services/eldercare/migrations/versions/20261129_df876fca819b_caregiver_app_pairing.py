"""caregiver app pairing

A caregiver's app account (the gateway's opaque subject) on their record, unique; one-time pairing codes kept as
keyed hashes, used at most once, one open per caregiver; codes entered per account and hour, to limit guessing.

Revision ID: df876fca819b
Revises: 72df3b090c6f
Create Date: 2026-11-29 14:40:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


revision: str = "df876fca819b"
down_revision: Union[str, Sequence[str], None] = "72df3b090c6f"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = "redeemed_at IS NULL AND revoked_at IS NULL"  # a code neither used nor replaced: one per caregiver


def upgrade() -> None:
    with op.batch_alter_table("caregivers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("app_subject", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("app_paired_at", shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("uq_caregivers_app_subject", ["app_subject"], unique=True)

    op.create_table(
        "caregiver_pairings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        sa.Column("issued_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("expires_at > issued_at", name=op.f("ck_caregiver_pairings_expires_after_issue")),
        sa.CheckConstraint(
            "(redeemed_at IS NULL) = (redeemed_by IS NULL)", name=op.f("ck_caregiver_pairings_redeemed_by_someone")
        ),
        sa.ForeignKeyConstraint(
            ["caregiver_id"], ["caregivers.id"], name=op.f("fk_caregiver_pairings_caregiver_id_caregivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caregiver_pairings")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_caregiver_pairings_code_hash")),
    )
    op.create_index("ix_caregiver_pairings_caregiver_id", "caregiver_pairings", ["caregiver_id"], unique=False)
    op.create_index(
        "uq_caregiver_pairings_caregiver_id_open",
        "caregiver_pairings",
        ["caregiver_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )

    op.create_table(
        "caregiver_pairing_attempts",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("window_started_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_caregiver_pairing_attempts_attempts_not_negative")),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_caregiver_pairing_attempts")),
    )


def downgrade() -> None:
    op.drop_table("caregiver_pairing_attempts")
    op.drop_index(
        "uq_caregiver_pairings_caregiver_id_open",
        table_name="caregiver_pairings",
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.drop_index("ix_caregiver_pairings_caregiver_id", table_name="caregiver_pairings")
    op.drop_table("caregiver_pairings")
    with op.batch_alter_table("caregivers", schema=None) as batch_op:
        batch_op.drop_index("uq_caregivers_app_subject")
        batch_op.drop_column("app_paired_at")
        batch_op.drop_column("app_subject")
