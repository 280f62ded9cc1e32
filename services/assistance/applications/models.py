import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.assistance.database import Base
from services.assistance.programmes.models import PROGRAMME_CHECK
from shared.db import UTCDateTime

STATES = ("accepted", "investigated", "reviewed", "publicised", "approved", "rejected")
OPEN_STATES = ("accepted", "investigated", "reviewed", "publicised")


class Application(Base):
    """An application for one programme, moving along 受理 → 入户调查 → 初审 → 公示 → 审核确认.

    Each step is a conditional update on `state`, so two staff acting at once cannot both move it; one open
    application per household and programme is a partial unique index.
    """

    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")", name="state_known"),
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("monthly_grant_fen IS NULL OR monthly_grant_fen >= 0", name="grant_not_negative"),
        CheckConstraint("notice_ends_on IS NULL OR notice_ends_on > notice_starts_on", name="notice_ordered"),
        Index(
            "uq_applications_open",
            "household_id",
            "programme",
            unique=True,
            postgresql_where=text("state IN ('accepted', 'investigated', 'reviewed', 'publicised')"),
            sqlite_where=text("state IN ('accepted', 'investigated', 'reviewed', 'publicised')"),
        ),
        Index("ix_applications_area_code_id", "area_code", "id"),
        Index("ix_applications_review_due_on", "review_due_on"),
        Index("ix_applications_submitted_by_id", "submitted_by", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    area_code: Mapped[str] = mapped_column(String(12))  # the household's, copied for listing by area
    programme: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    income_irregular: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_starts_on: Mapped[dt.date | None] = mapped_column(Date)
    notice_ends_on: Mapped[dt.date | None] = mapped_column(Date)
    reasons: Mapped[str | None] = mapped_column(Text)
    monthly_grant_fen: Mapped[int | None] = mapped_column(BigInteger)
    review_interval_months: Mapped[int | None] = mapped_column(SmallInteger)
    review_due_on: Mapped[dt.date | None] = mapped_column(Date)
    evaluation: Mapped[dict | None] = mapped_column(JSON)  # the eligibility result the decision rested on
    created_by: Mapped[str] = mapped_column(String(200))
    # The resident who applied from the mini-program (网上申请) and follows it there; null for applications
    # accepted at the counter.
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ApplicationEvent(Base):
    """The audit trail: who did which step, from which area, when, and what they recorded."""

    __tablename__ = "application_events"
    __table_args__ = (Index("ix_application_events_application_id", "application_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(200))
    actor_area: Mapped[str | None] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict] = mapped_column(JSON)


class ReviewReminder(Base):
    """That an approved application's periodic review (定期复核) fell due: recorded once per application and due
    date by the daily job `reviews.remind`, for a notification outbox to pick up."""

    __tablename__ = "review_reminders"
    __table_args__ = (UniqueConstraint("application_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    reminded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
