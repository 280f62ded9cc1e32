import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from services.eldercare.elders.models import index_of
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime, bounded
from shared.money import MAX_PRICE_FEN
from shared.pii import Encrypted, blind_index

CAREGIVER_ID_NUMBER = "caregivers.id_number"
CAREGIVER_PHONE = "caregivers.phone"


def caregiver_id_number_index(value: str) -> str:
    return blind_index(CAREGIVER_ID_NUMBER, value)


# Visit states in which the caregiver's time is taken: these may not overlap for one caregiver. Held by an
# exclusion constraint on PostgreSQL and by triggers on SQLite (see the migration "home visits").
BOOKED_STATES = ("scheduled", "checked_in", "checked_out", "verified", "flagged")
VISIT_STATES = ("requested", *BOOKED_STATES, "missed", "cancelled")


class HomeService(Base):
    """An entry of the home-visit catalogue (居家上门服务目录): cleaning, bathing, meal delivery, escort, …"""

    __tablename__ = "home_services"
    __table_args__ = (
        bounded("price_fen", 0, MAX_PRICE_FEN),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("duration_minutes BETWEEN 10 AND 720", name="duration_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(40))
    price_fen: Mapped[int] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Provider(StandardAddress, Base):
    """A home-care provider (服务机构): its base, where its caregivers set out from, is a standard address."""

    __tablename__ = "providers"
    __table_args__ = (Index("ix_providers_area_code_id", "area_code", "id"), *address_table_args("providers"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    phone: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Caregiver(Base):
    """A caregiver (护理员) of a provider, with a certificate (养老护理员职业技能等级证书) that expires."""

    __tablename__ = "caregivers"
    __table_args__ = (
        CheckConstraint(
            "certificate_level IN ('junior', 'intermediate', 'senior', 'technician', 'senior_technician')",
            name="certificate_level_known",
        ),
        Index("ix_caregivers_provider_id", "provider_id"),
        # A signed-in account (the gateway's opaque subject) is paired to at most one caregiver.
        Index("uq_caregivers_app_subject", "app_subject", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    name: Mapped[str] = mapped_column(String(50))
    id_number: Mapped[str] = mapped_column(Encrypted(CAREGIVER_ID_NUMBER))
    id_number_index: Mapped[str] = mapped_column(
        String(64), unique=True, default=index_of(CAREGIVER_ID_NUMBER, "id_number")
    )
    phone: Mapped[str | None] = mapped_column(Encrypted(CAREGIVER_PHONE))
    certificate_no: Mapped[str] = mapped_column(String(50))
    certificate_level: Mapped[str] = mapped_column(String(20))
    certificate_expires_on: Mapped[dt.date] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The caregiver app: the account paired by a one-time code from staff (see caregiver_app.py).
    app_subject: Mapped[str | None] = mapped_column(String(200))
    app_paired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CaregiverPairing(Base):
    """A one-time code staff give a caregiver to pair their app account. Only a keyed hash of the code is kept;
    it is used at most once (a conditional update), and not after it expires or a newer code replaces it."""

    __tablename__ = "caregiver_pairings"
    __table_args__ = (
        Index("ix_caregiver_pairings_caregiver_id", "caregiver_id"),
        # At most one code per caregiver neither used nor replaced: two staff issuing at once cannot leave two.
        Index(
            "uq_caregiver_pairings_caregiver_id_open",
            "caregiver_id",
            unique=True,
            sqlite_where=text("redeemed_at IS NULL AND revoked_at IS NULL"),
            postgresql_where=text("redeemed_at IS NULL AND revoked_at IS NULL"),
        ),
        CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        CheckConstraint("(redeemed_at IS NULL) = (redeemed_by IS NULL)", name="redeemed_by_someone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregivers.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    redeemed_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CaregiverPairingAttempts(Base):
    """Pairing codes one signed-in account entered in its current hour: a brake on guessing. Taken by a
    conditional update that locks the row, so requests sent at once cannot all slip under the limit."""

    __tablename__ = "caregiver_pairing_attempts"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)


class Visit(Base):
    """A home visit: ordered, scheduled to a caregiver, checked in and out on site, then verified or flagged."""

    __tablename__ = "visits"
    __table_args__ = (
        bounded("price_fen", 0, MAX_PRICE_FEN),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in VISIT_STATES) + ")", name="status_known"),
        CheckConstraint(
            "caregiver_id IS NOT NULL OR status IN ('requested', 'cancelled')", name="booked_has_caregiver"
        ),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_visits_caregiver_id_starts_at", "caregiver_id", "starts_at"),
        Index("ix_visits_status_starts_at", "status", "starts_at"),
        Index("ix_visits_ordered_by", "ordered_by"),  # per-resident quota (quotas.py)
        Index("ix_visits_elder_id", "elder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("home_services.id"))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregivers.id"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    price_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    check_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    check_in_latitude: Mapped[float | None] = mapped_column(Float)
    check_in_longitude: Mapped[float | None] = mapped_column(Float)
    check_in_accuracy_m: Mapped[float | None] = mapped_column(Float)
    check_in_distance_m: Mapped[float | None] = mapped_column(Float)
    check_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    check_out_latitude: Mapped[float | None] = mapped_column(Float)
    check_out_longitude: Mapped[float | None] = mapped_column(Float)
    check_out_accuracy_m: Mapped[float | None] = mapped_column(Float)
    check_out_distance_m: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    missed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ordered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class VisitCorrection(Base):
    """An audited change to a visit record by staff: the only way to change one after it locks."""

    __tablename__ = "visit_corrections"
    __table_args__ = (Index("ix_visit_corrections_visit_id", "visit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)
    corrected_by: Mapped[str] = mapped_column(String(200))
    corrected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
