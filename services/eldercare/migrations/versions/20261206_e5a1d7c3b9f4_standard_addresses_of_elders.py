"""standard addresses of elders: code, status, text as written (shared/addresses.py)

Existing elders become pending, their text kept as written, for the job addresses.standardise.

Revision ID: e5a1d7c3b9f4
Revises: 348e2b6e75ff
Create Date: 2026-12-06 23:50:00

"""

from shared.migrations import add_standard_address, drop_standard_address

# revision identifiers, used by Alembic.
revision = "e5a1d7c3b9f4"
down_revision = "348e2b6e75ff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_standard_address("elders")


def downgrade() -> None:
    drop_standard_address("elders")
