"""standard addresses of households: code, status, text as written, coordinates (shared/addresses.py)

Existing households become pending, their text kept as written, for the job addresses.standardise.

Revision ID: f7b2c8d4e0a6
Revises: 0ed6364bbb8f
Create Date: 2026-12-06 23:50:00

"""

from shared.migrations import add_standard_address, drop_standard_address

# revision identifiers, used by Alembic.
revision = "f7b2c8d4e0a6"
down_revision = "0ed6364bbb8f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_standard_address("households", with_coordinates=True)


def downgrade() -> None:
    drop_standard_address("households", with_coordinates=True)
