"""pii reads audit

The audit of personal data read in the clear (shared/pii_reads.py), append-only: triggers refuse UPDATE
and DELETE on both backends. (PostgreSQL's TRUNCATE fires no row trigger: the test harness empties
tables with it, and only the database owner may run it.)

Revision ID: ac10dbd32047
Revises: 47086fa941ff
Create Date: 2026-11-29 13:55:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db


revision: str = "ac10dbd32047"
down_revision: Union[str, Sequence[str], None] = "47086fa941ff"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PG_FUNCTION = """CREATE FUNCTION eldercare_pii_reads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pii_reads is append-only: % refused', TG_OP USING ERRCODE = '23514';
END $$"""


def upgrade() -> None:
    op.create_table(
        "pii_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("read_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reader", sa.String(length=200), nullable=False, comment="the caller's subject"),
        sa.Column("reader_kind", sa.String(length=20), nullable=False),
        sa.Column("reader_area", sa.String(length=12), nullable=True),
        sa.Column("subject_type", sa.String(length=40), nullable=False, comment="e.g. elder, member, donor"),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column(
            "subject_area", sa.String(length=12), nullable=True, comment="division code of the person read about"
        ),
        sa.Column(
            "fields", sa.String(length=300), nullable=False, comment="comma-separated field names read in the clear"
        ),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_reads")),
    )
    with op.batch_alter_table("pii_reads", schema=None) as batch_op:
        batch_op.create_index("ix_pii_reads_reader", ["reader"], unique=False)
        batch_op.create_index("ix_pii_reads_subject", ["subject_type", "subject_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER pii_reads_append_only BEFORE UPDATE OR DELETE ON pii_reads "
            "FOR EACH ROW EXECUTE FUNCTION eldercare_pii_reads_append_only()"
        )
    else:
        # RAISE(ABORT) is reported as a constraint failure (IntegrityError), like PostgreSQL's 23514.
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER pii_reads_no_{action.lower()} BEFORE {action} ON pii_reads "
                f"BEGIN SELECT RAISE(ABORT, 'pii_reads is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER pii_reads_append_only ON pii_reads")
        op.execute("DROP FUNCTION eldercare_pii_reads_append_only()")
    else:
        op.execute("DROP TRIGGER pii_reads_no_update")
        op.execute("DROP TRIGGER pii_reads_no_delete")
    with op.batch_alter_table("pii_reads", schema=None) as batch_op:
        batch_op.drop_index("ix_pii_reads_subject")
        batch_op.drop_index("ix_pii_reads_reader")

    op.drop_table("pii_reads")
