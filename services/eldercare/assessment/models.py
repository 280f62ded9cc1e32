import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.db import UTCDateTime, bounded


class Assessment(Base):
    """A capability assessment (老年人能力评估): the item answers as given, and what the server computed from
    them with the template version named."""

    __tablename__ = "assessments"
    __table_args__ = (
        bounded("care_risk_events_30d", 0, 100),
        CheckConstraint("level BETWEEN 0 AND 4 AND raw_level BETWEEN 0 AND 4", name="level_range"),
        CheckConstraint("assessor_1 <> assessor_2", name="two_assessors"),
        CheckConstraint("reason IN ('initial', 'periodic', 'change', 'review')", name="reason_known"),
        Index("ix_assessments_elder_id_assessed_on", "elder_id", "assessed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    template_version: Mapped[str] = mapped_column(String(40))
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(10))
    answers: Mapped[dict] = mapped_column(JSON)
    indicator_scores: Mapped[dict] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    raw_level: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    coma: Mapped[bool] = mapped_column(Boolean)
    dementia_or_mental_disorder: Mapped[bool] = mapped_column(Boolean)
    care_risk_events_30d: Mapped[int] = mapped_column(Integer)
    adjustments: Mapped[list] = mapped_column(JSON)
    assessor_1: Mapped[str] = mapped_column(String(100))
    assessor_2: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
