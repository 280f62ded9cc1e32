"""Donation receipts (捐赠票据): numbered per organisation and year without gaps, voided (作废) but never deleted."""

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime


class ReceiptCounter(Base):
    """The last number issued by an organisation in a year. Incremented by a conditional UPDATE in the same
    transaction as the receipt, so a receipt that fails takes its number back with it: no gaps."""

    __tablename__ = "receipt_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number_non_negative"),)

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("organization_id", "year", "number"),
        CheckConstraint("kind IN ('individual', 'merged')", name="kind_known"),
        CheckConstraint("gift_kind IN ('money', 'in_kind')", name="gift_kind_known"),
        CheckConstraint("(gift_kind = 'money') = (amount_fen IS NOT NULL)", name="money_has_amount"),
        CheckConstraint("number > 0", name="number_positive"),
        Index("ix_receipts_organization_id_id", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    gift_kind: Mapped[str] = mapped_column(String(16))
    donor_name: Mapped[str] = mapped_column(String(100))
    donor_kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    quantity: Mapped[str | None] = mapped_column(String(200))  # in-kind gifts: what and how many
    handler: Mapped[str] = mapped_column(String(50))  # 经手人
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ReceiptVoid(Base):
    """A receipt voided (作废): when, why and by whom, and the refund that voided it, if one did. A row of its own,
    since receipts are append-only: the receipt keeps its number (still used, the numbers stay gap-free), and
    the primary key voids it once."""

    __tablename__ = "receipt_voids"

    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), primary_key=True)
    voided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(300))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("donation_refunds.id"), index=True)
    voided_by: Mapped[str] = mapped_column(String(200))


class DonationReceipt(Base):
    """What became of a donation's receipt: issued (on which receipt) or declined by the donor. Append-only.

    A donation's rows form one chain: the first has no `replaces_receipt_id` (unique per donation); each later
    one names the donation's own receipt it follows (the composite foreign key), which must be voided (the
    foreign key to receipt_voids), and only one row may follow a receipt. So a donation has at most one live
    outcome, the chain's last row: never two live receipts, nor a receipt and a decline."""

    __tablename__ = "donation_receipts"
    __table_args__ = (
        CheckConstraint("(receipt_id IS NULL) <> (declined_at IS NULL)", name="issued_xor_declined"),
        UniqueConstraint("donation_id", "receipt_id"),
        UniqueConstraint("donation_id", "replaces_receipt_id"),
        Index(
            "uq_donation_receipts_first",
            "donation_id",
            unique=True,
            postgresql_where=text("replaces_receipt_id IS NULL"),
            sqlite_where=text("replaces_receipt_id IS NULL"),
        ),
        ForeignKeyConstraint(
            ["donation_id", "replaces_receipt_id"], ["donation_receipts.donation_id", "donation_receipts.receipt_id"]
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    replaces_receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipt_voids.receipt_id"))
    declined_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decline_note: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(200))
