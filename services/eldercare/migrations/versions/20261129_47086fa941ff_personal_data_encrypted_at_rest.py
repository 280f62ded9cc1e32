"""personal data encrypted at rest

Elders' and caregivers' ID numbers and phones, and the phones of elders' emergency contacts, are stored
encrypted (AES-256-GCM, `shared.pii`); an HMAC blind index of the ID number replaces the unique plain
column for lookups and the one-record-per-person rule.

Steps, per table: add the ciphertext and index columns; encrypt every row into them; drop the plain
columns (and their unique constraint); rename the ciphertext columns to the old names; make them NOT
NULL where the plain ones were; a unique constraint on the index. The downgrade decrypts back.

The backfill imports `shared.pii`'s keyring. That is acceptable here, although a migration otherwise stays
frozen: the stored format is versioned ("v1:<key id>:..."), the keyring reads the very keys the service
will read (PII_KEYS, PII_ACTIVE_KEY, PII_INDEX_KEY, with production's refusal of the dev keys), and copying
the key handling into the migration would make a second place where keys are read, to drift from the first.

Revision ID: 47086fa941ff
Revises: 9557c3eb16b2
Create Date: 2026-11-29 13:30:23
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from shared.pii import keyring


revision: str = "47086fa941ff"
down_revision: Union[str, Sequence[str], None] = "9557c3eb16b2"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("elders", "caregivers")
CONTACT_PHONE = "elders.emergency_contacts.phone"
BATCH = 500


def _sqlite_foreign_keys(enabled: bool) -> None:
    """SQLite rebuilds a table to drop a column with a unique constraint (batch mode: copy, DROP TABLE, rename).

    With foreign keys enforced, that DROP TABLE first deletes every row, which cascades to (or is refused
    by) the tables that reference it: elder_carers, meal_orders, visits, ... SQLite ignores PRAGMA
    foreign_keys inside a transaction, so the migration ends the open one, sets the pragma and opens a new
    one (the engine starts every transaction with BEGIN IMMEDIATE, so SQLAlchemy does not know of it).
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


def _rows(table: sa.TableClause, *columns: str):
    bind, last = op.get_bind(), 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, *[table.c[c] for c in columns])
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _update(table: sa.TableClause, values: list[dict]) -> None:
    columns = [c for c in values[0] if c != "row_id"]
    op.get_bind().execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({c: sa.bindparam(f"new_{c}") for c in columns}),
        [{("row_id" if k == "row_id" else f"new_{k}"): v for k, v in row.items()} for row in values],
    )


def _contacts(value, convert):
    return [c | {"phone": convert(CONTACT_PHONE, c["phone"])} if c.get("phone") else c for c in value or []]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    enforced = sqlite and _foreign_keys_enforced()
    if sqlite:
        _sqlite_foreign_keys(False)
    ring = keyring()
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("id_number_ciphertext", sa.String(length=500), nullable=True))
            batch_op.add_column(sa.Column("phone_ciphertext", sa.String(length=500), nullable=True))
            batch_op.add_column(sa.Column("id_number_index", sa.String(length=64), nullable=True))
        table = sa.table(
            name,
            sa.column("id"),
            sa.column("id_number"),
            sa.column("phone"),
            sa.column("id_number_ciphertext"),
            sa.column("phone_ciphertext"),
            sa.column("id_number_index"),
            sa.column("emergency_contacts", sa.JSON),
        )
        plain = ["id_number", "phone"] + (["emergency_contacts"] if name == "elders" else [])
        for rows in _rows(table, *plain):
            values = []
            for row in rows:
                value = dict(
                    row_id=row.id,
                    id_number_ciphertext=ring.encrypt(f"{name}.id_number", row.id_number),
                    id_number_index=ring.blind_index(f"{name}.id_number", row.id_number),
                    phone_ciphertext=None if row.phone is None else ring.encrypt(f"{name}.phone", row.phone),
                )
                if name == "elders":
                    value["emergency_contacts"] = _contacts(row.emergency_contacts, ring.encrypt)
                values.append(value)
            _update(table, values)
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{name}_id_number", type_="unique")
            batch_op.drop_column("id_number")
            batch_op.drop_column("phone")
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column(
                "id_number_ciphertext", new_column_name="id_number", nullable=False, existing_type=sa.String(length=500)
            )
            batch_op.alter_column(
                "phone_ciphertext", new_column_name="phone", existing_type=sa.String(length=500), existing_nullable=True
            )
            batch_op.alter_column("id_number_index", nullable=False, existing_type=sa.String(length=64))
            batch_op.create_unique_constraint(f"uq_{name}_id_number_index", ["id_number_index"])
    if sqlite:
        _check_foreign_keys()
        _sqlite_foreign_keys(enforced)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    enforced = sqlite and _foreign_keys_enforced()
    if sqlite:
        _sqlite_foreign_keys(False)
    ring = keyring()
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("id_number_plain", sa.String(length=18), nullable=True))
            batch_op.add_column(sa.Column("phone_plain", sa.String(length=20), nullable=True))
        table = sa.table(
            name,
            sa.column("id"),
            sa.column("id_number"),
            sa.column("phone"),
            sa.column("id_number_plain"),
            sa.column("phone_plain"),
            sa.column("emergency_contacts", sa.JSON),
        )
        stored = ["id_number", "phone"] + (["emergency_contacts"] if name == "elders" else [])
        for rows in _rows(table, *stored):
            values = []
            for row in rows:
                value = dict(
                    row_id=row.id,
                    id_number_plain=ring.decrypt(f"{name}.id_number", row.id_number),
                    phone_plain=None if row.phone is None else ring.decrypt(f"{name}.phone", row.phone),
                )
                if name == "elders":
                    value["emergency_contacts"] = _contacts(row.emergency_contacts, ring.decrypt)
                values.append(value)
            _update(table, values)
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{name}_id_number_index", type_="unique")
            batch_op.drop_column("id_number_index")
            batch_op.drop_column("id_number")
            batch_op.drop_column("phone")
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column(
                "id_number_plain", new_column_name="id_number", nullable=False, existing_type=sa.String(length=18)
            )
            batch_op.alter_column(
                "phone_plain", new_column_name="phone", existing_type=sa.String(length=20), existing_nullable=True
            )
        with op.batch_alter_table(name, schema=None) as batch_op:  # on its own: after the rename
            batch_op.create_unique_constraint(f"uq_{name}_id_number", ["id_number"])
    if sqlite:
        _check_foreign_keys()
        _sqlite_foreign_keys(enforced)
