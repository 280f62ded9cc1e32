"""Non-cash gifts (非货币捐赠): a register apart from the cash ledger, with each later use or disposal."""

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_COUNT, MAX_FUND_FEN

KINDS = ("goods", "intellectual_property", "technology", "equity", "securities")
BASES = ("invoice", "market_price", "appraisal", "agreement")
ACTIONS = ("distributed", "used", "sold", "transferred", "scrapped")


class InKindDonation(Base):
    __tablename__ = "in_kind_donations"
    __table_args__ = (
        bounded("quantity", 1, MAX_COUNT),
        bounded("valuation_fen", 1, MAX_FUND_FEN),
        CheckConstraint(
            "kind IN ('goods', 'intellectual_property', 'technology', 'equity', 'securities')", name="kind_known"
        ),
        CheckConstraint("valuation_basis IN ('invoice', 'market_price', 'appraisal', 'agreement')", name="basis_known"),
        CheckConstraint("quantity > 0 AND valuation_fen > 0", name="positive"),
        CheckConstraint("donor_kind IN ('person', 'anonymous', 'company')", name="donor_kind_known"),
        CheckConstraint("(donor_kind = 'anonymous') = (donor_name IS NULL)", name="anonymous_iff_no_name"),
        Index("ix_in_kind_donations_organization_id_id", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(10))
    valuation_fen: Mapped[int] = mapped_column(BigInteger)
    valuation_basis: Mapped[str] = mapped_column(String(16))
    basis_note: Mapped[str] = mapped_column(String(300))
    donor_kind: Mapped[str] = mapped_column(String(16))
    donor_name: Mapped[str | None] = mapped_column(String(100))
    donor_credit_code: Mapped[str | None] = mapped_column(String(18))
    honour_opt_in: Mapped[bool] = mapped_column(Boolean)
    received_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class InKindDisposition(Base):
    """A later use or disposal of part of a gift: distributed to beneficiaries, used, sold, transferred, scrapped."""

    __tablename__ = "in_kind_dispositions"
    __table_args__ = (
        bounded("quantity", 1, MAX_COUNT),
        bounded("proceeds_fen", 0, MAX_FUND_FEN),
        CheckConstraint("action IN ('distributed', 'used', 'sold', 'transferred', 'scrapped')", name="action_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("proceeds_fen IS NULL OR proceeds_fen >= 0", name="proceeds_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gift_id: Mapped[int] = mapped_column(ForeignKey("in_kind_donations.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(BigInteger)
    proceeds_fen: Mapped[int | None] = mapped_column(BigInteger)  # a sale's or transfer's price
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class InKindReceipt(Base):
    """A receipt of a non-cash gift. Append-only, one chain per gift as for money (`DonationReceipt`): the first row
    has no `replaces_receipt_id` (unique per gift); each later one names the gift's own receipt it follows (the
    composite foreign key), which must be voided (the foreign key to receipt_voids), and only one row may follow a
    receipt. So a gift has at most one live receipt, its chain's last row; a voided one keeps its number."""

    __tablename__ = "in_kind_receipts"
    __table_args__ = (
        UniqueConstraint("gift_id", "replaces_receipt_id"),
        Index(
            "uq_in_kind_receipts_first",
            "gift_id",
            unique=True,
            postgresql_where=text("replaces_receipt_id IS NULL"),
            sqlite_where=text("replaces_receipt_id IS NULL"),
        ),
        ForeignKeyConstraint(
            ["gift_id", "replaces_receipt_id"], ["in_kind_receipts.gift_id", "in_kind_receipts.receipt_id"]
        ),
    )

    gift_id: Mapped[int] = mapped_column(ForeignKey("in_kind_donations.id"), primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), primary_key=True, unique=True)
    replaces_receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipt_voids.receipt_id"))
