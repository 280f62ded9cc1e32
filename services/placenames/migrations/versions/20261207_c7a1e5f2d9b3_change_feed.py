"""change feed: the outbox of changes (changes) and its one counter row (change_feed)

Revision ID: c7a1e5f2d9b3
Revises: a4e8c6f0b1d2
Create Date: 2026-12-07 00:00:00

"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

# revision identifiers, used by Alembic.
revision = "c7a1e5f2d9b3"
down_revision = "a4e8c6f0b1d2"
branch_labels = None
depends_on = None

KINDS = (  # as of this revision (services/placenames/changes/models.py)
    "address.issued",
    "address.renamed",
    "address.moved",
    "address.split",
    "address.merged",
    "address.retired",
    "name.renamed",
    "name.unified",
    "name.rectified",
    "name.retired",
    "plate.issued",
    "plate.replaced",
    "plate.revoked",
    "division.renamed",
    "division.merged",
    "division.moved",
    "division.retired",
)


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("previous_text", sa.String(300)),
        sa.Column("successors", sa.JSON(), nullable=False),
        sa.Column("decided_on", sa.Date()),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name=op.f("ck_changes_kind_known")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_changes_seq_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
    )
    op.create_index("ix_changes_recorded_at", "changes", ["recorded_at"])
    feed = op.create_table(
        "change_feed",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_change_feed_one_row")),
        sa.CheckConstraint(
            "pruned_through >= 0 AND last_seq >= pruned_through", name=op.f("ck_change_feed_counters_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed")),
    )
    op.bulk_insert(feed, [{"id": 1, "last_seq": 0, "pruned_through": 0}])


def downgrade() -> None:
    op.drop_table("change_feed")
    op.drop_index("ix_changes_recorded_at", table_name="changes")
    op.drop_table("changes")
