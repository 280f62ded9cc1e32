"""review reminders: that an approved application's periodic review fell due, once per application and due date

Revision ID: 957320c5468b
Revises: 9372eed71664
Create Date: 2026-12-06 20:51:00

"""

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision = "957320c5468b"
down_revision = "9372eed71664"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reminded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_review_reminders_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_reminders")),
        sa.UniqueConstraint("application_id", "due_on", name=op.f("uq_review_reminders_application_id_due_on")),
    )


def downgrade() -> None:
    op.drop_table("review_reminders")
