from pydantic import ConfigDict, Field, model_validator

from shared.idnumbers import MobilePhone
from shared.notifications import Contact
from shared.schemas import ClockTime, Schema


class QuietHours(Schema):
    """Hours without SMS or WeChat messages (免打扰), Asia/Shanghai; they may wrap midnight. Emergencies still go."""

    model_config = ConfigDict(extra="forbid")
    start: ClockTime = Field(description="From this time (HH:MM)", examples=["22:00"])
    end: ClockTime = Field(description="Until this time (HH:MM)", examples=["07:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHours":
        if self.start.replace(second=0, microsecond=0) == self.end.replace(second=0, microsecond=0):
            raise ValueError("quiet hours must start and end at different minutes")
        return self


class PreferencesIn(Schema):
    """The channels a person chooses beyond the in-app message, which is always kept (the written notice)."""

    model_config = ConfigDict(extra="forbid")
    sms: bool = Field(description="Also by SMS (短信), to `phone`")
    wechat: bool = Field(description="Also by WeChat subscription message (订阅消息); needs a WeChat sign-in first")
    phone: MobilePhone | None = Field(
        None,
        description="The phone for SMS. A resident's must be the phone they sign in with by SMS code (it was "
        "verified then); staff give their work phone. Omitted: the one on file stays.",
    )
    quiet_hours: QuietHours | None = Field(
        description="Hours without SMS and WeChat messages, except emergencies; null for none"
    )


class PreferencesOut(Schema):
    """How the caller is told: the in-app message always, SMS and WeChat as chosen, and the quiet hours."""

    in_app: bool = Field(True, description="Always: every notification is kept as an in-app message")
    sms: bool = Field(description="Also by SMS")
    wechat: bool = Field(description="Also by WeChat subscription message")
    phone_masked: str | None = Field(description="The phone SMS goes to, masked")
    wechat_linked: bool = Field(description="A WeChat sign-in gave an openid to send subscription messages to")
    quiet_hours: QuietHours | None = Field(description="Hours without SMS and WeChat messages, except emergencies")


class ContactsIn(Schema):
    """The people a service's worker is about to notify (a page of them)."""

    model_config = ConfigDict(extra="forbid")
    subjects: list[str] = Field(min_length=1, max_length=500, description="Subjects, e.g. `resident:…`, `staff:…`")


class ContactsOut(Schema):
    """Each subject's channels, addresses and quiet hours; a subject with no preferences gets the defaults."""

    items: list[Contact]
