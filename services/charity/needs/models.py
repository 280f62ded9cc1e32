"""Needs published by communities, resources offered by donors, and the matches staff confirm (资源对接).

Quantities matched and delivered are counters moved only by conditional UPDATEs (`... WHERE matched +
n <= quantity`), and check constraints hold the same bounds in the database.
"""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_COUNT
from shared.pii import Encrypted

CATEGORIES = (
    "food",
    "clothing",
    "daily_goods",
    "medical",
    "education",
    "elderly_care",
    "disability",
    "housing",
    "volunteer_service",
    "other",
)
_CATEGORY_CHECK = "category IN (" + ", ".join(f"'{c}'" for c in CATEGORIES) + ")"


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        bounded("quantity", 1, MAX_COUNT),
        CheckConstraint(_CATEGORY_CHECK, name="category_known"),
        CheckConstraint("urgency IN ('low', 'medium', 'high', 'critical')", name="urgency_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("matched_quantity >= 0 AND matched_quantity <= quantity", name="matched_within_need"),
        CheckConstraint(
            "fulfilled_quantity >= 0 AND fulfilled_quantity <= matched_quantity", name="fulfilled_within_matched"
        ),
        Index("ix_needs_category_area_code", "category", "area_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_code: Mapped[str] = mapped_column(String(12))  # the community (or street) publishing it
    category: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(10))
    urgency: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[dt.date] = mapped_column(Date)
    matched_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    fulfilled_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    published_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ResourceOffer(Base):
    __tablename__ = "resource_offers"
    __table_args__ = (
        bounded("quantity", 1, MAX_COUNT),
        CheckConstraint(_CATEGORY_CHECK, name="category_known"),
        CheckConstraint("offerer_kind IN ('person', 'company', 'organization')", name="offerer_kind_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("allocated_quantity >= 0 AND allocated_quantity <= quantity", name="allocated_within_offer"),
        Index("ix_resource_offers_category_area_code", "category", "area_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offerer_kind: Mapped[str] = mapped_column(String(16))
    offerer_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column("contact_phone_enc", Encrypted("resource_offers.contact_phone"))
    subject: Mapped[str] = mapped_column(String(200))  # who offered it (their account), who may see it
    area_code: Mapped[str] = mapped_column(String(12))  # where it can be delivered: city, district, street…
    category: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(10))
    available_until: Mapped[dt.date] = mapped_column(Date)
    allocated_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (
        bounded("quantity", 1, MAX_COUNT),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("delivered_quantity >= 0 AND delivered_quantity <= quantity", name="delivered_within_match"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("resource_offers.id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    delivered_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    confirmed_by: Mapped[str] = mapped_column(String(200))
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
