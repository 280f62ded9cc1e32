import datetime as dt

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.db import UTCDateTime

CALL_KINDS = ("fall", "medical", "fire", "lost", "loneliness", "other")


class EmergencyCall(Base):
    """A call for help (为老呼叫) from or for an older person, and how it ended."""

    __tablename__ = "emergency_calls"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in CALL_KINDS) + ")", name="kind_known"),
        CheckConstraint("status IN ('open', 'handling', 'closed')", name="status_known"),
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('resolved_on_site', 'hospital', 'false_alarm', 'referred', 'died')",
            name="outcome_known",
        ),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"),
        Index("ix_emergency_calls_area_code_status", "area_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    area_code: Mapped[str] = mapped_column(String(12))  # the person's, so open calls per area need no join
    kind: Mapped[str] = mapped_column(String(12))
    called_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    raised_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CallAction(Base):
    """One step of handling a call: who did what, when (the log)."""

    __tablename__ = "emergency_call_actions"
    __table_args__ = (Index("ix_emergency_call_actions_call_id", "call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("emergency_calls.id"))
    handler: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(Text)
    acted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
