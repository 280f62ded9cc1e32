"""standard addresses of canteens, institutions and providers' bases (shared/addresses.py)

Existing canteens and institutions become pending, their text kept as written, for the job addresses.standardise.
Providers had no address: theirs is empty and unresolved, for staff to give (listed by address_status).

Revision ID: b8d2e6f0a4c1
Revises: e5a1d7c3b9f4
Create Date: 2026-12-07 00:30:00

"""

from shared.migrations import add_standard_address, drop_standard_address

# revision identifiers, used by Alembic.
revision = "b8d2e6f0a4c1"
down_revision = "e5a1d7c3b9f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_standard_address("canteens")
    add_standard_address("institutions")
    add_standard_address("providers", with_coordinates=True, had_address=False)


def downgrade() -> None:
    drop_standard_address("providers", with_coordinates=True, had_address=False)
    drop_standard_address("institutions")
    drop_standard_address("canteens")
