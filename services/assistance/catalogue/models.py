import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.assistance.database import Base
from shared.db import UTCDateTime

CATEGORIES = ("care_visit", "psychological_support", "tutoring", "housing_repair", "employment_help", "other")
MATCH_STATES = ("proposed", "accepted", "delivered", "declined")
NEEDS = (
    "older_person",
    "lives_alone_or_elderly_couple",
    "disability",
    "severe_disability",
    "child",
    "student",
    "low_income",
    "unable_to_work",
    "housing",
    "psychological",
    "daily_care",
    "employment",
)


class CatalogueService(Base):
    """A service beyond cash (救助服务目录, "物质+服务") offered by a provider in an area, for listed needs."""

    __tablename__ = "catalogue_services"
    __table_args__ = (
        CheckConstraint("category IN (" + ", ".join(f"'{c}'" for c in CATEGORIES) + ")", name="category_known"),
        Index("ix_catalogue_services_area_code", "area_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(24))
    provider: Mapped[str] = mapped_column(String(100))
    area_code: Mapped[str] = mapped_column(String(12))  # households in this area and below may be served
    needs: Mapped[list] = mapped_column(JSON)  # need tags the service answers (see catalogue.service.NEEDS)
    description: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ServiceMatch(Base):
    """A catalogue service matched to a household, tracked from proposal to delivery. One open match per pair."""

    __tablename__ = "service_matches"
    __table_args__ = (
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in MATCH_STATES) + ")", name="state_known"),
        Index(
            "uq_service_matches_open",
            "service_id",
            "household_id",
            unique=True,
            postgresql_where=text("state IN ('proposed', 'accepted')"),
            sqlite_where=text("state IN ('proposed', 'accepted')"),
        ),
        Index("ix_service_matches_household_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("catalogue_services.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(12))
    needs_met: Mapped[list] = mapped_column(JSON)  # the household's needs this service answers
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class HouseholdNeed(Base):
    """A need a worker found on a visit (心理疏导, 日常照料, 就业帮扶, 危房…) that the register cannot show: recorded
    once per household and need, with who recorded it and why; matching uses it with the derived needs."""

    __tablename__ = "household_needs"
    __table_args__ = (
        UniqueConstraint("household_id", "need"),
        CheckConstraint("need IN (" + ", ".join(f"'{n}'" for n in NEEDS) + ")", name="need_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    need: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
