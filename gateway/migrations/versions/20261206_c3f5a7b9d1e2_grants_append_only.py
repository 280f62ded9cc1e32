"""grants append-only: the audit of rights granted refuses UPDATE and DELETE

Revision ID: c3f5a7b9d1e2
Revises: 5986de85cb73
Create Date: 2026-12-06 19:45:00

"""

from shared.migrations import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = "c3f5a7b9d1e2"
down_revision = "5986de85cb73"
branch_labels = None
depends_on = None


def upgrade() -> None:
    make_append_only("grants", prefix="gateway")


def downgrade() -> None:
    drop_append_only("grants", prefix="gateway")
