"""conflict overrides: the audit of conflicts staff overrode, and the override on the bed hold it released

Revision ID: 8d3f1c2a7b90
Revises: aa3c5b9f18a2
Create Date: 2026-12-06 19:30:00

"""

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision = "8d3f1c2a7b90"
down_revision = "aa3c5b9f18a2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_area", sa.String(length=12), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("resource", sa.String(length=100), nullable=False),
        sa.Column("conflict", sa.String(length=100), nullable=False),
        sa.Column("conflict_detail", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("area_code", sa.String(length=12), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overrides")),
    )
    with op.batch_alter_table("overrides", schema=None) as batch_op:
        batch_op.create_index("ix_overrides_actor", ["actor"], unique=False)
        batch_op.create_index("ix_overrides_area_code", ["area_code"], unique=False)
    op.add_column("bed_occupancies", sa.Column("override_id", sa.Integer(), nullable=True))
    op.add_column("bed_occupancies", sa.Column("override_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bed_occupancies", schema=None) as batch_op:
        batch_op.drop_column("override_reason")
        batch_op.drop_column("override_id")
    with op.batch_alter_table("overrides", schema=None) as batch_op:
        batch_op.drop_index("ix_overrides_area_code")
        batch_op.drop_index("ix_overrides_actor")
    op.drop_table("overrides")
