"""overrides append-only: the audit of overrides refuses UPDATE and DELETE, as pii_reads does

Revision ID: b2e4f6a8c0d1
Revises: 8d3f1c2a7b90
Create Date: 2026-12-06 19:45:00

"""

from shared.migrations import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = "b2e4f6a8c0d1"
down_revision = "8d3f1c2a7b90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    make_append_only("overrides", prefix="eldercare")


def downgrade() -> None:
    drop_append_only("overrides", prefix="eldercare")
