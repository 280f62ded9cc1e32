import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime

BED_TYPES = ("general", "nursing", "dementia")


class Institution(StandardAddress, Base):
    """An elderly-care institution (养老机构), public (公办) or private (民办), with its star rating (星级)."""

    __tablename__ = "institutions"
    __table_args__ = (
        CheckConstraint("ownership IN ('public', 'private')", name="ownership_known"),
        CheckConstraint("star_rating IS NULL OR star_rating BETWEEN 1 AND 5", name="star_rating_range"),
        *address_table_args("institutions"),
        Index("ix_institutions_area_code_id", "area_code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    ownership: Mapped[str] = mapped_column(String(10))
    star_rating: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Bed(Base):
    """A bed of an institution: general, nursing-type (护理型) or dementia care (认知障碍照护).

    `in_service` is what staff set; whether the bed is free, held or occupied comes from its occupancies.
    """

    __tablename__ = "beds"
    __table_args__ = (
        UniqueConstraint("institution_id", "label"),
        CheckConstraint("bed_type IN ('general', 'nursing', 'dementia')", name="bed_type_known"),
        Index("ix_beds_bed_type_institution_id", "bed_type", "institution_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(30))  # room and bed, e.g. 3-201-1
    bed_type: Mapped[str] = mapped_column(String(10))
    in_service: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# A row of bed_occupancies is "live" while its status is 'active': a hold until it is confirmed, released or
# lapses; an admission until discharge. Two partial unique indexes on live rows are the whole invariant:
# one live occupancy per bed (one person per bed, whether held or admitted) and one per person (one active
# admission, and no hoarding of holds). A hold past its deadline still reads 'active' until someone needs
# the bed or the person: that claim first marks it expired (see occupancy.expire_lapsed_holds), so no
# background job has to be running for a bed to free itself.
LIVE = text("status = 'active'")


class BedOccupancy(Base):
    """A hold on a bed (预留, with a deadline) or an admission to it (入住), for one person."""

    __tablename__ = "bed_occupancies"
    __table_args__ = (
        CheckConstraint("kind IN ('hold', 'admission')", name="kind_known"),
        CheckConstraint("status IN ('active', 'confirmed', 'released', 'expired', 'discharged')", name="status_known"),
        CheckConstraint("kind = 'admission' OR expires_at IS NOT NULL", name="hold_has_deadline"),
        CheckConstraint("purpose IN ('booking', 'offer', 'direct')", name="purpose_known"),
        Index("uq_bed_occupancies_bed_id_live", "bed_id", unique=True, sqlite_where=LIVE, postgresql_where=LIVE),
        Index("uq_bed_occupancies_elder_id_live", "elder_id", unique=True, sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_bed_occupancies_elder_id", "elder_id"),
        Index("ix_bed_occupancies_bed_id", "bed_id"),
        Index("ix_bed_occupancies_created_by", "created_by"),  # per-resident quota (quotas.py)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bed_id: Mapped[int] = mapped_column(ForeignKey("beds.id"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    kind: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(10))  # booking: a hold asked for; offer: from the waitlist
    status: Mapped[str] = mapped_column(String(12))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("bed_occupancies.id"))  # admission: the hold it came from
    admitted_on: Mapped[dt.date | None] = mapped_column(Date)
    discharged_on: Mapped[dt.date | None] = mapped_column(Date)
    discharge_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A hold staff released to admit someone else in an emergency: the audit row (overrides.id) and its reason.
    override_id: Mapped[int | None] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(String(500))


WAITING = text("status IN ('waiting', 'offered')")


class WaitlistEntry(Base):
    """A person waiting for a bed of a type (轮候), ordered by priority: 特困 first, then capability
    assessment level (more dependent first), then the date of the request."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("bed_type IN ('general', 'nursing', 'dementia')", name="bed_type_known"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'admitted', 'lapsed', 'declined', 'withdrawn')", name="status_known"
        ),
        CheckConstraint("assessment_level IS NULL OR assessment_level BETWEEN 0 AND 4", name="level_range"),
        Index(
            "uq_waitlist_entries_elder_id_bed_type_waiting",
            "elder_id",
            "bed_type",
            unique=True,
            sqlite_where=WAITING,
            postgresql_where=WAITING,
        ),
        Index("ix_waitlist_entries_bed_type_status", "bed_type", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    bed_type: Mapped[str] = mapped_column(String(10))
    district_code: Mapped[str | None] = mapped_column(String(6))  # only beds in this district, when given
    is_tekun: Mapped[bool] = mapped_column(Boolean)
    assessment_level: Mapped[int | None] = mapped_column(Integer)
    priority_basis: Mapped[str] = mapped_column(String(10))  # live | fallback (assistance did not answer)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("bed_occupancies.id"))
    created_by: Mapped[str] = mapped_column(String(200))


# The order beds are offered in: 特困 first, then the more dependent (higher assessment level; none counts as 0),
# then first come.
PRIORITY = (
    WaitlistEntry.is_tekun.desc(),
    func.coalesce(WaitlistEntry.assessment_level, 0).desc(),
    WaitlistEntry.requested_at,
    WaitlistEntry.id,
)
