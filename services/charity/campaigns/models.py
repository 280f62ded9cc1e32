"""The charity one-day donation campaign (慈善一日捐): government units donate through payroll batches."""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_PAYMENT_FEN


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period_ordered"),
        CheckConstraint("participation_target_pct BETWEEN 1 AND 100", name="target_is_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(String(12))  # who runs it: the city bureau or a district's
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))  # the fundraising project receiving the money
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    participation_target_pct: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CampaignUnit(Base):
    """A government unit (机关事业单位) taking part, with its headcount for the participation rate."""

    __tablename__ = "campaign_units"
    __table_args__ = (
        bounded("headcount", 1, 1_000_000),
        UniqueConstraint("campaign_id", "credit_code"),
        CheckConstraint("headcount > 0", name="headcount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18))
    district_code: Mapped[str] = mapped_column(String(6))
    headcount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PayrollBatch(Base):
    """An accepted payroll batch: all its rows or none. The same batch number, or the same rows (whatever the
    file's encoding) under another number, is never accepted twice for a unit. A correction names the batch it
    replaces: that one's donation is refunded, and it no longer counts."""

    __tablename__ = "payroll_batches"
    __table_args__ = (
        bounded("row_count", 1, 1_000_000),
        bounded("total_fen", 1, MAX_PAYMENT_FEN),
        UniqueConstraint("unit_id", "batch_no"),
        UniqueConstraint("unit_id", "content_sha256"),
        UniqueConstraint("unit_id", "rows_sha256"),
        CheckConstraint("row_count > 0 AND total_fen > 0", name="totals_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("campaign_units.id"))
    batch_no: Mapped[str] = mapped_column(String(60))
    content_sha256: Mapped[str] = mapped_column(String(64))  # of the file's bytes
    # Of the rows, normalised (campaigns.service.rows_digest): a file sent again in another encoding is the same.
    # NULL only for a batch that repeated an earlier one's rows before this key existed (its migration).
    rows_sha256: Mapped[str | None] = mapped_column(String(64))
    # The batch this one corrects (its donation refunded, its rows no longer counted): each at most once.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("payroll_batches.id"), unique=True)
    row_count: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), unique=True)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PayrollRow(Base):
    """One employee's gift in a batch. Only the payroll number is kept, not the name (PIPL: the least data
    that answers who took part)."""

    __tablename__ = "payroll_rows"
    __table_args__ = (
        bounded("amount_fen", 1, MAX_PAYMENT_FEN),
        UniqueConstraint("batch_id", "employee_no"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_payroll_rows_unit_id_employee_no", "unit_id", "employee_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payroll_batches.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("campaign_units.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    employee_no: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
