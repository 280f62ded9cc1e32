"""pii_reads: the append-only audit of personal data read in the clear

Every clear read of an ID number (a member's, on request with a purpose) and every status lookup by ID number
writes a row here (shared.pii_reads). Rows are written once: triggers refuse UPDATE and DELETE, on PostgreSQL
with SQLSTATE 23514, on SQLite with RAISE(ABORT). TRUNCATE, an operator's act on the whole table, stays possible.

Revision ID: 8c1e4b7f2a90
Revises: b3f9d07c61e2
Create Date: 2026-11-29 14:00:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db

revision: str = "8c1e4b7f2a90"
down_revision: Union[str, Sequence[str], None] = "b3f9d07c61e2"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PG_FUNCTION = """CREATE FUNCTION assistance_pii_reads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '23514';
END $$"""
PG_TRIGGER = """CREATE TRIGGER pii_reads_append_only BEFORE UPDATE OR DELETE ON pii_reads
  FOR EACH ROW EXECUTE FUNCTION assistance_pii_reads_append_only()"""
SQLITE_TRIGGERS = [
    "CREATE TRIGGER pii_reads_no_update BEFORE UPDATE ON pii_reads "
    "BEGIN SELECT RAISE(ABORT, 'pii_reads is append-only'); END",
    "CREATE TRIGGER pii_reads_no_delete BEFORE DELETE ON pii_reads "
    "BEGIN SELECT RAISE(ABORT, 'pii_reads is append-only'); END",
]


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
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER pii_reads_append_only ON pii_reads")
        op.execute("DROP FUNCTION assistance_pii_reads_append_only()")
    else:
        op.execute("DROP TRIGGER pii_reads_no_update")
        op.execute("DROP TRIGGER pii_reads_no_delete")
    with op.batch_alter_table("pii_reads", schema=None) as batch_op:
        batch_op.drop_index("ix_pii_reads_subject")
        batch_op.drop_index("ix_pii_reads_reader")
    op.drop_table("pii_reads")
