"""domiciles of organisations: a standard address (shared/addresses.py)

Organisations kept no domicile: theirs is empty and unresolved, for staff to give; their area is their district
until then.

Revision ID: c3f9a1e7d5b2
Revises: 5c7a9e3b1d68
Create Date: 2026-12-07 00:55:00

"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import add_standard_address, drop_standard_address

# revision identifiers, used by Alembic.
revision = "c3f9a1e7d5b2"
down_revision = "5c7a9e3b1d68"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("area_code", sa.String(12), nullable=False, server_default=""))
    op.execute("UPDATE organizations SET area_code = district_code")
    add_standard_address("organizations", with_coordinates=True, had_address=False)


def downgrade() -> None:
    drop_standard_address("organizations", with_coordinates=True, had_address=False)
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("area_code")
