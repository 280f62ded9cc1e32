"""staff must set credentials: an account made with a one-time password serves nothing until its holder
has confirmed a second factor and chosen a new password

Revision ID: b7d2e4f6a8c1
Revises: c3f5a7b9d1e2
Create Date: 2026-12-06 21:40:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "b7d2e4f6a8c1"
down_revision = "c3f5a7b9d1e2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_set_credentials", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("must_set_credentials")
