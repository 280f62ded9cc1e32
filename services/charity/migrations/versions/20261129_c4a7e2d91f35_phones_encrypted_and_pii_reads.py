"""Donors' phones and offers' contact phones encrypted at rest; the audit of clear reads

- `donations.donor_phone` becomes `donor_phone_enc` (AES-256-GCM text in shared.pii's format, purpose
  "donations.donor_phone") and `donor_phone_index` (keyed blind index, purpose "charity.donor_phone": the
  honour list tells one donor's gifts apart by it, never by the phone).
- `resource_offers.contact_phone` becomes `contact_phone_enc` (purpose "resource_offers.contact_phone").
- `pii_reads` (shared/pii_reads.py), append-only like the ledger: PostgreSQL reuses the ledger migration's
  `charity_refuse_change()` trigger function, SQLite gets BEFORE UPDATE / BEFORE DELETE triggers.

Existing rows are backfilled in batches; the downgrade decrypts them back into the plain columns.
`donations` is append-only: its UPDATE trigger is set aside for the backfill and put back as it was.
Columns are added and dropped with plain ALTER TABLE (SQLite >= 3.35 drops a column in place), so no table
is rebuilt and no foreign key pointing at `donations` or `resource_offers` is disturbed. SQLite cannot make
an added column NOT NULL without a default: there `contact_phone_enc` is added NOT NULL DEFAULT '' and
every row is filled before anything reads it.

Revision ID: c4a7e2d91f35
Revises: 9b8ac4f16186
Create Date: 2026-11-29 14:00:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import shared.db

# The backfill uses the service's own keyring (shared.pii): what it writes must decrypt with the keys the
# running service holds (PII_KEYS / PII_ACTIVE_KEY / PII_INDEX_KEY; the dev keys in dev and tests). The stored
# text is versioned ("v1:<key id>:..."), so the format itself is frozen.
from shared.pii import keyring

revision: str = "c4a7e2d91f35"
down_revision: Union[str, Sequence[str], None] = "9b8ac4f16186"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DONOR_PHONE = "donations.donor_phone"
DONOR_PHONE_INDEX = "charity.donor_phone"
OFFER_PHONE = "resource_offers.contact_phone"
BATCH = 2000
SQLITE_DONATIONS_NO_UPDATE = (
    "CREATE TRIGGER donations_no_update BEFORE UPDATE ON donations "
    "BEGIN SELECT RAISE(ABORT, 'donations is append-only'); END"
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _donations_updatable(updatable: bool) -> None:
    """Set the append-only UPDATE trigger of donations aside for a backfill, or put it back."""
    if not _sqlite():
        op.execute(f"ALTER TABLE donations {'DISABLE' if updatable else 'ENABLE'} TRIGGER donations_append_only")
    elif updatable:
        op.execute("DROP TRIGGER donations_no_update")
    else:
        op.execute(SQLITE_DONATIONS_NO_UPDATE)


def _rewrite(table: str, source: str, convert, where: str = "") -> None:
    """For each row (in id order, in batches), SET the columns `convert(value)` returns from `source`."""
    connection, last = op.get_bind(), 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT id, {source} FROM {table} WHERE id > :last {where} ORDER BY id LIMIT {BATCH}"),
            {"last": last},
        ).all()
        if not rows:
            return
        changes = [dict(convert(value), id=row_id) for row_id, value in rows]
        columns = ", ".join(f"{name} = :{name}" for name in changes[0] if name != "id")
        connection.execute(sa.text(f"UPDATE {table} SET {columns} WHERE id = :id"), changes)
        last = rows[-1][0]


def upgrade() -> None:
    ring = keyring()
    op.add_column("donations", sa.Column("donor_phone_enc", sa.String(length=500), nullable=True))
    op.add_column("donations", sa.Column("donor_phone_index", sa.String(length=64), nullable=True))
    _donations_updatable(True)
    _rewrite(
        "donations",
        "donor_phone",
        lambda phone: {
            "donor_phone_enc": ring.encrypt(DONOR_PHONE, phone),
            "donor_phone_index": ring.blind_index(DONOR_PHONE_INDEX, phone),
        },
        where="AND donor_phone IS NOT NULL",
    )
    _donations_updatable(False)
    op.drop_column("donations", "donor_phone")

    if _sqlite():
        op.execute("ALTER TABLE resource_offers ADD COLUMN contact_phone_enc VARCHAR(500) NOT NULL DEFAULT ''")
    else:
        op.add_column("resource_offers", sa.Column("contact_phone_enc", sa.String(length=500), nullable=True))
    _rewrite("resource_offers", "contact_phone", lambda phone: {"contact_phone_enc": ring.encrypt(OFFER_PHONE, phone)})
    if not _sqlite():
        op.alter_column("resource_offers", "contact_phone_enc", existing_type=sa.String(length=500), nullable=False)
    op.drop_column("resource_offers", "contact_phone")

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
    op.create_index("ix_pii_reads_reader", "pii_reads", ["reader"], unique=False)
    op.create_index("ix_pii_reads_subject", "pii_reads", ["subject_type", "subject_id"], unique=False)
    if _sqlite():
        # RAISE(ABORT) is reported as a constraint failure (IntegrityError), like PostgreSQL's 23514.
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER pii_reads_no_{action.lower()} BEFORE {action} ON pii_reads "
                f"BEGIN SELECT RAISE(ABORT, 'pii_reads is append-only'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER pii_reads_append_only BEFORE UPDATE OR DELETE ON pii_reads "
            "FOR EACH ROW EXECUTE FUNCTION charity_refuse_change()"
        )


def downgrade() -> None:
    ring = keyring()
    if _sqlite():
        op.execute("DROP TRIGGER pii_reads_no_update")
        op.execute("DROP TRIGGER pii_reads_no_delete")
    else:
        op.execute("DROP TRIGGER pii_reads_append_only ON pii_reads")
    op.drop_index("ix_pii_reads_subject", table_name="pii_reads")
    op.drop_index("ix_pii_reads_reader", table_name="pii_reads")
    op.drop_table("pii_reads")

    if _sqlite():
        op.execute("ALTER TABLE resource_offers ADD COLUMN contact_phone VARCHAR(20) NOT NULL DEFAULT ''")
    else:
        op.add_column("resource_offers", sa.Column("contact_phone", sa.String(length=20), nullable=True))
    _rewrite(
        "resource_offers", "contact_phone_enc", lambda stored: {"contact_phone": ring.decrypt(OFFER_PHONE, stored)}
    )
    if not _sqlite():
        op.alter_column("resource_offers", "contact_phone", existing_type=sa.String(length=20), nullable=False)
    op.drop_column("resource_offers", "contact_phone_enc")

    op.add_column("donations", sa.Column("donor_phone", sa.String(length=20), nullable=True))
    _donations_updatable(True)
    _rewrite(
        "donations",
        "donor_phone_enc",
        lambda stored: {"donor_phone": ring.decrypt(DONOR_PHONE, stored)},
        where="AND donor_phone_enc IS NOT NULL",
    )
    _donations_updatable(False)
    op.drop_column("donations", "donor_phone_index")
    op.drop_column("donations", "donor_phone_enc")
