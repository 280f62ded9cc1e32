"""division former names: names a division had before under the code it keeps (中马街道 of 330205001)

Revision ID: a4e8c6f0b1d2
Revises: bc0991930ac1
Create Date: 2026-12-06 21:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a4e8c6f0b1d2"
down_revision = "bc0991930ac1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "division_former_names",
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("valid_to", sa.Date()),
        sa.Column("source", sa.Text()),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("code", "name", name=op.f("pk_division_former_names")),
    )


def downgrade() -> None:
    op.drop_table("division_former_names")
