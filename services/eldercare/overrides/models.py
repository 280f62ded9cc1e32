import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.db import UTCDateTime


class Override(Base):
    """Staff went past a conflict the domain lets them override (e.g. an emergency admission over another person's
    bed hold): who, when, what it produced, what was in the way, why, and under which request id."""

    __tablename__ = "overrides"
    __table_args__ = (
        Index("ix_overrides_area_code", "area_code"),
        Index("ix_overrides_actor", "actor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))  # the caller's subject
    actor_area: Mapped[str | None] = mapped_column(String(12))
    action: Mapped[str] = mapped_column(String(40))  # e.g. emergency_admission
    resource: Mapped[str] = mapped_column(String(100))  # what the override produced, e.g. admissions/12
    conflict: Mapped[str] = mapped_column(String(100))  # what was in the way, e.g. bed-holds/7
    conflict_detail: Mapped[str] = mapped_column(String(500))  # the refusal the caller would otherwise have had
    reason: Mapped[str] = mapped_column(String(500))
    area_code: Mapped[str] = mapped_column(String(12))  # where it happened: auditors see their area's
    request_id: Mapped[str | None] = mapped_column(String(128))
