"""Door plates (门牌) and the addresses they carry."""

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.placenames.database import Base
from shared.db import UTCDateTime

PLATE_STATUSES = ("issued", "replaced", "revoked")


class DoorPlate(Base):
    """A door plate (门牌) with the code printed on its QR code (数字门牌). One plate may carry several
    addresses (一号多址) and one address several plates (多号一址), through `plate_addresses`."""

    __tablename__ = "door_plates"
    __table_args__ = (
        CheckConstraint("status IN ('issued', 'replaced', 'revoked')", name="status_known"),
        CheckConstraint("status <> 'replaced' OR replaced_by_id IS NOT NULL", name="replacement_named"),
        CheckConstraint("(status = 'issued') = (ended_on IS NULL)", name="ended_dated"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    plate_text: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("door_plates.id"))
    ended_on: Mapped[dt.date | None] = mapped_column(Date, doc="Day it was replaced or revoked")
    what_is_there: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PlateAddress(Base):
    __tablename__ = "plate_addresses"
    __table_args__ = (UniqueConstraint("plate_id", "address_id"), Index("ix_plate_addresses_address_id", "address_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    plate_id: Mapped[int] = mapped_column(ForeignKey("door_plates.id"))
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))
