"""Incomes encrypted at rest: amount_fen and monthly_fen become amount_fen_enc and monthly_fen_enc

Each amount is stored as the AES-256-GCM ciphertext of its decimal text (shared.pii's format, purposes
"incomes.amount_fen" and "incomes.monthly_fen"). Existing rows are encrypted in batches, then the clear columns
and their non-negative CHECKs go (the API's validation holds that rule now: a ciphertext cannot be compared in
SQL). The downgrade decrypts back into the clear columns and restores the CHECKs.

Revision ID: 66201d2b18fe
Revises: a4c19e7d3b52
Create Date: 2026-11-29 16:20:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# The service's own keyring, as in 5717a12db7cc: the rows written here must decrypt with the keys the running
# service holds; the stored text is versioned ("v1:<key id>:...") so the format itself is frozen.
from shared.pii import keyring

revision: str = "66201d2b18fe"
down_revision: Union[str, Sequence[str], None] = "a4c19e7d3b52"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ("amount_fen", "monthly_fen")
BATCH = 5000


def _batches(select_sql: str):
    connection, last = op.get_bind(), 0
    while True:
        rows = connection.execute(sa.text(select_sql), {"last": last}).all()
        if not rows:
            return
        yield connection, rows
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("incomes", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(f"{column}_enc", sa.String(length=200), nullable=True))
    ring = keyring()
    for connection, rows in _batches(
        f"SELECT id, amount_fen, monthly_fen FROM incomes WHERE id > :last ORDER BY id LIMIT {BATCH}"
    ):
        connection.execute(
            sa.text("UPDATE incomes SET amount_fen_enc = :a, monthly_fen_enc = :m WHERE id = :id"),
            [
                {
                    "id": r.id,
                    "a": ring.encrypt("incomes.amount_fen", str(r.amount_fen)),
                    "m": ring.encrypt("incomes.monthly_fen", str(r.monthly_fen)),
                }
                for r in rows
            ],
        )
    # incomes is referenced by no table, so its rebuild on SQLite needs no foreign-key care.
    with op.batch_alter_table("incomes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_incomes_amount_not_negative"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_incomes_monthly_not_negative"), type_="check")
        for column in COLUMNS:
            batch_op.drop_column(column)
            batch_op.alter_column(f"{column}_enc", existing_type=sa.String(length=200), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("incomes", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.BigInteger(), nullable=True))
    ring = keyring()
    for connection, rows in _batches(
        f"SELECT id, amount_fen_enc, monthly_fen_enc FROM incomes WHERE id > :last ORDER BY id LIMIT {BATCH}"
    ):
        connection.execute(
            sa.text("UPDATE incomes SET amount_fen = :a, monthly_fen = :m WHERE id = :id"),
            [
                {
                    "id": r.id,
                    "a": int(ring.decrypt("incomes.amount_fen", r.amount_fen_enc)),
                    "m": int(ring.decrypt("incomes.monthly_fen", r.monthly_fen_enc)),
                }
                for r in rows
            ],
        )
    with op.batch_alter_table("incomes", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_column(f"{column}_enc")
            batch_op.alter_column(column, existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint(batch_op.f("ck_incomes_amount_not_negative"), "amount_fen >= 0")
        batch_op.create_check_constraint(batch_op.f("ck_incomes_monthly_not_negative"), "monthly_fen >= 0")
