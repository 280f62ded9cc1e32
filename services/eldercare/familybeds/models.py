import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.db import UTCDateTime

ACTIVE = text("status = 'active'")


class FamilyBed(Base):
    """A family care bed (家庭养老床位): a bed at home with a provider and a service package."""

    __tablename__ = "family_beds"
    __table_args__ = (
        CheckConstraint("package IN ('basic', 'standard', 'intensive')", name="package_known"),
        CheckConstraint("status IN ('active', 'ended')", name="status_known"),
        CheckConstraint("visits_per_month BETWEEN 1 AND 62", name="visits_range"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
        # One family bed per person at a time.
        Index("uq_family_beds_elder_id_active", "elder_id", unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    package: Mapped[str] = mapped_column(String(10))
    visits_per_month: Mapped[int] = mapped_column(Integer)
    started_on: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(6))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
