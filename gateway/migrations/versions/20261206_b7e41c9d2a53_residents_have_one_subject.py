"""residents have one subject, stored with the account

Revision ID: b7e41c9d2a53
Revises: b7d2e4f6a8c1
Create Date: 2026-12-06 21:40:00

Accounts made before keep the subject they were given (`resident:<id>`), so the services' records naming
them (care links, orders) stay theirs without any change; accounts made from now on get a random one.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "b7e41c9d2a53"
down_revision: Union[str, Sequence[str], None] = "b7d2e4f6a8c1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
    op.execute("UPDATE residents SET subject = 'resident:' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_residents_subject"), ["subject"])


def downgrade() -> None:
    # The earlier code derives the subject from the id: accounts made since then sign in under another
    # subject than the one the services' records name, until upgraded again.
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_residents_subject"), type_="unique")
        batch_op.drop_column("subject")
