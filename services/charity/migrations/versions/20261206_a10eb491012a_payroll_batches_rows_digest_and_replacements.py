"""payroll batches: a digest of the rows, unique per unit, and the batch a correction replaces

The same payroll sent again as GBK under a new batch number had other bytes, so the unique key on the file's
digest let it in and the money counted twice. The rows' digest (payroll number and amount in fen, sorted) is
the same whatever the encoding. Batches already imported get theirs from their rows; a batch that repeated an
earlier one's rows keeps NULL (the key lets it stay; staff correct it), so the upgrade never fails on old data.

Revision ID: a10eb491012a
Revises: 66b5ce8a48b5
Create Date: 2026-12-06 18:45:00

"""

import hashlib
from itertools import groupby

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a10eb491012a"
down_revision = "66b5ce8a48b5"
branch_labels = None
depends_on = None

TABLE = "payroll_batches"


def _rows_digest(rows) -> str:
    # campaigns.service.rows_digest as it is at this revision (a migration keeps its own copy of the rule).
    return hashlib.sha256("\n".join(sorted(f"{no}\t{fen}" for no, fen in rows)).encode()).hexdigest()


def _triggers_aside() -> list[tuple[str, str]]:
    """payroll_batches is append-only by trigger. SQLite: every trigger is set aside while batch mode rebuilds
    the table (renaming it breaks a trigger that names it), put back by the caller; PostgreSQL: the table's
    trigger is disabled for the backfill."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_append_only")
        return []
    triggers = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
    for name, _sql in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    return triggers


def _triggers_back(triggers: list[tuple[str, str]]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TABLE}_append_only")
    for _name, sql in triggers:
        op.execute(sql)


def _backfill() -> None:
    bind = op.get_bind()
    units = dict(bind.execute(sa.text(f"SELECT id, unit_id FROM {TABLE}")).all())
    rows = bind.execute(sa.text("SELECT batch_id, employee_no, amount_fen FROM payroll_rows ORDER BY batch_id"))
    digests = {}  # (unit, digest): the first batch with those rows
    for batch_id, batch_rows in groupby(rows, key=lambda row: row[0]):
        digests.setdefault((units[batch_id], _rows_digest((no, fen) for _, no, fen in batch_rows)), batch_id)
    for (_unit, digest), batch_id in digests.items():  # a repeat of an earlier batch stays NULL
        bind.execute(
            sa.text(f"UPDATE {TABLE} SET rows_sha256 = :digest WHERE id = :id"), {"digest": digest, "id": batch_id}
        )


def upgrade() -> None:
    triggers = _triggers_aside()
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("rows_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
    _backfill()
    with op.batch_alter_table(TABLE) as batch:
        batch.create_unique_constraint(op.f("uq_payroll_batches_unit_id_rows_sha256"), ["unit_id", "rows_sha256"])
        batch.create_unique_constraint(op.f("uq_payroll_batches_replaces_id"), ["replaces_id"])
        batch.create_foreign_key(op.f("fk_payroll_batches_replaces_id_payroll_batches"), TABLE, ["replaces_id"], ["id"])
    _triggers_back(triggers)


def downgrade() -> None:
    triggers = _triggers_aside()
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f("fk_payroll_batches_replaces_id_payroll_batches"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_payroll_batches_replaces_id"), type_="unique")
        batch.drop_constraint(op.f("uq_payroll_batches_unit_id_rows_sha256"), type_="unique")
        batch.drop_column("replaces_id")
        batch.drop_column("rows_sha256")
    _triggers_back(triggers)
