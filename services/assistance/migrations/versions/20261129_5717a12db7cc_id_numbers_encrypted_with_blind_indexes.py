"""ID numbers encrypted at rest, looked up and kept unique by a keyed blind index

Members, enrolments and signals: the plain `id_number` column becomes `id_number_enc` (AES-256-GCM text,
shared.pii's format) and `id_number_index` (HMAC-SHA256 blind index, purpose "assistance.id_number", the same in
every table so they join on it). The unique key (one household per person), the status lookup index and the
one-current-enrolment key move to the blind index. Existing rows are backfilled; the downgrade decrypts them
back into the plain column.

Revision ID: 5717a12db7cc
Revises: 061ea58cc589
Create Date: 2026-11-29 13:50:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# The backfill uses the service's own keyring (shared.pii): the rows it writes must decrypt with the keys the
# running service holds (PII_KEYS / PII_ACTIVE_KEY / PII_INDEX_KEY from the environment, the dev keys in dev and
# tests), and be found by the blind index the service computes. A copy of the cipher here could drift from the
# one the service reads with; the stored text is versioned ("v1:<key id>:...") so the format itself is frozen.
from shared.pii import keyring

revision: str = "5717a12db7cc"
down_revision: Union[str, Sequence[str], None] = "061ea58cc589"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEX_PURPOSE = "assistance.id_number"
TABLES = ("members", "enrolments", "signals")
BATCH = 2000


def _sqlite_foreign_keys(enabled: bool) -> None:
    """Dropping a column rebuilds the table on SQLite (copy, DROP TABLE, rename). With foreign keys enforced, the
    DROP TABLE of members would first delete every row and cascade to incomes, assets, leads... SQLite ignores the
    pragma inside a transaction: end the open one, set it, and open the next as the engine does (BEGIN IMMEDIATE).
    """
    op.execute("COMMIT")
    op.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    op.execute("BEGIN IMMEDIATE")


def _foreign_keys_enforced() -> bool:
    """Whether the run enforces foreign keys: shared.migrations runs with them off on SQLite, and this migration
    must leave them as it found them, or a later migration's table rebuild in the same run cascades deletes."""
    return bool(op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar())


def _check_foreign_keys() -> None:
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"foreign keys broken by the table rebuild: {broken[:5]}")


def _encrypt_rows(table: str) -> None:
    connection, ring = op.get_bind(), keyring()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT id, id_number FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}"), {"last": last}
        ).all()
        if not rows:
            return
        connection.execute(
            sa.text(f"UPDATE {table} SET id_number_enc = :enc, id_number_index = :idx WHERE id = :id"),
            [
                {
                    "id": r.id,
                    "enc": ring.encrypt(f"{table}.id_number", r.id_number),
                    "idx": ring.blind_index(INDEX_PURPOSE, r.id_number),
                }
                for r in rows
            ],
        )
        last = rows[-1].id


def _decrypt_rows(table: str) -> None:
    connection, ring = op.get_bind(), keyring()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT id, id_number_enc FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}"), {"last": last}
        ).all()
        if not rows:
            return
        connection.execute(
            sa.text(f"UPDATE {table} SET id_number = :number WHERE id = :id"),
            [{"id": r.id, "number": ring.decrypt(f"{table}.id_number", r.id_number_enc)} for r in rows],
        )
        last = rows[-1].id


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    enforced = sqlite and _foreign_keys_enforced()
    if sqlite:
        _sqlite_foreign_keys(False)
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("id_number_enc", sa.String(length=500), nullable=True))
            batch_op.add_column(sa.Column("id_number_index", sa.String(length=64), nullable=True))
        _encrypt_rows(table)

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("uq_members_id_number", type_="unique")
        batch_op.drop_column("id_number")
        batch_op.alter_column("id_number_enc", existing_type=sa.String(length=500), nullable=False)
        batch_op.alter_column("id_number_index", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_members_id_number_index"), ["id_number_index"])

    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index("uq_enrolments_current")
        batch_op.drop_index("ix_enrolments_id_number_current")
        batch_op.drop_column("id_number")
        batch_op.alter_column("id_number_enc", existing_type=sa.String(length=500), nullable=False)
        batch_op.alter_column("id_number_index", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("ix_enrolments_id_number_current", ["id_number_index", "since_on"], unique=False)
        batch_op.create_index(
            "uq_enrolments_current",
            ["id_number_index", "programme"],
            unique=True,
            postgresql_where=sa.text("until_on IS NULL"),
            sqlite_where=sa.text("until_on IS NULL"),
        )

    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_column("id_number")
        batch_op.alter_column("id_number_enc", existing_type=sa.String(length=500), nullable=False)
        batch_op.alter_column("id_number_index", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("ix_signals_id_number_index", ["id_number_index"], unique=False)
    if sqlite:
        _check_foreign_keys()
        _sqlite_foreign_keys(enforced)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    enforced = sqlite and _foreign_keys_enforced()
    if sqlite:
        _sqlite_foreign_keys(False)
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("id_number", sa.String(length=18), nullable=True))
        _decrypt_rows(table)

    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_id_number_index")
        batch_op.drop_column("id_number_index")
        batch_op.drop_column("id_number_enc")
        batch_op.alter_column("id_number", existing_type=sa.String(length=18), nullable=False)

    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index("uq_enrolments_current")
        batch_op.drop_index("ix_enrolments_id_number_current")
        batch_op.drop_column("id_number_index")
        batch_op.drop_column("id_number_enc")
        batch_op.alter_column("id_number", existing_type=sa.String(length=18), nullable=False)
        batch_op.create_index("ix_enrolments_id_number_current", ["id_number", "since_on"], unique=False)
        batch_op.create_index(
            "uq_enrolments_current",
            ["id_number", "programme"],
            unique=True,
            postgresql_where=sa.text("until_on IS NULL"),
            sqlite_where=sa.text("until_on IS NULL"),
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("uq_members_id_number_index", type_="unique")
        batch_op.drop_column("id_number_index")
        batch_op.drop_column("id_number_enc")
        batch_op.alter_column("id_number", existing_type=sa.String(length=18), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_members_id_number"), ["id_number"])
    if sqlite:
        _check_foreign_keys()
        _sqlite_foreign_keys(enforced)
