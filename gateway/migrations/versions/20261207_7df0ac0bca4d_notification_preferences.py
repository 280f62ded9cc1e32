"""notification preferences: each person's channels, phone, WeChat openid and quiet hours

Revision ID: 7df0ac0bca4d
Revises: 1e16c2665b32
Create Date: 2026-12-07 00:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "7df0ac0bca4d"
down_revision: Union[str, Sequence[str], None] = "1e16c2665b32"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("sms", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("wechat", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("phone", sa.String(length=500), nullable=True),
        sa.Column("wechat_openid", sa.String(length=500), nullable=True),
        sa.Column("quiet_from_minute", sa.Integer(), nullable=True),
        sa.Column("quiet_until_minute", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "quiet_from_minute BETWEEN 0 AND 1439", name=op.f("ck_notification_preferences_quiet_from_minute_range")
        ),
        sa.CheckConstraint(
            "quiet_until_minute BETWEEN 0 AND 1439", name=op.f("ck_notification_preferences_quiet_until_minute_range")
        ),
        sa.CheckConstraint(
            "(quiet_from_minute IS NULL) = (quiet_until_minute IS NULL)",
            name=op.f("ck_notification_preferences_quiet_hours_whole"),
        ),
        sa.CheckConstraint("NOT sms OR phone IS NOT NULL", name=op.f("ck_notification_preferences_sms_has_a_phone")),
        sa.CheckConstraint(
            "NOT wechat OR wechat_openid IS NOT NULL", name=op.f("ck_notification_preferences_wechat_has_an_openid")
        ),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_notification_preferences")),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
