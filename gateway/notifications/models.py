import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database import Base
from shared.db import UTCDateTime
from shared.pii import Encrypted


class NotificationPreference(Base):
    """How a person (resident or staff, by subject) wants to be told, and where: the one place the suite keeps
    it. The phone and the WeChat openid are kept encrypted, only for notifications, and only once given."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint("quiet_from_minute BETWEEN 0 AND 1439", name="quiet_from_minute_range"),
        CheckConstraint("quiet_until_minute BETWEEN 0 AND 1439", name="quiet_until_minute_range"),
        CheckConstraint("(quiet_from_minute IS NULL) = (quiet_until_minute IS NULL)", name="quiet_hours_whole"),
        CheckConstraint("NOT sms OR phone IS NOT NULL", name="sms_has_a_phone"),
        CheckConstraint("NOT wechat OR wechat_openid IS NOT NULL", name="wechat_has_an_openid"),
    )

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    wechat: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phone: Mapped[str | None] = mapped_column(Encrypted("notification_preferences.phone"))
    # Captured when the person signs in with WeChat: a subscription message is addressed to it.
    wechat_openid: Mapped[str | None] = mapped_column(Encrypted("notification_preferences.wechat_openid"))
    # Quiet hours (免打扰), Asia/Shanghai minutes of the day; may wrap midnight. NULL: none.
    quiet_from_minute: Mapped[int | None] = mapped_column(Integer)
    quiet_until_minute: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
