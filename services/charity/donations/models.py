"""Money donations, their partial refunds, and disbursements: the business records behind ledger groups.

Each row is written once, in the same transaction as its ledger group, and never changed: a refund is a
new row (and a new reversing group), not an edit of the donation.
"""

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_FUND_FEN, MAX_PAYMENT_FEN
from shared.pii import Encrypted

CHANNELS = ("wechat", "alipay", "unionpay", "bank", "cash")
DONOR_KINDS = ("person", "anonymous", "company")


class Donation(Base):
    __tablename__ = "donations"
    __table_args__ = (
        bounded("amount_fen", 1, MAX_PAYMENT_FEN),
        # A payment channel's transaction is one donation, whatever the Idempotency-Key of its retries.
        UniqueConstraint("channel", "channel_txn_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("channel IN ('wechat', 'alipay', 'unionpay', 'bank', 'cash')", name="channel_known"),
        CheckConstraint("donor_kind IN ('person', 'anonymous', 'company')", name="donor_kind_known"),
        CheckConstraint("(donor_kind = 'anonymous') = (donor_name IS NULL)", name="anonymous_iff_no_name"),
        Index("ix_donations_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    channel: Mapped[str] = mapped_column(String(16))
    channel_txn_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    donor_kind: Mapped[str] = mapped_column(String(16))
    donor_name: Mapped[str | None] = mapped_column(String(100))
    # Encrypted at rest (shared.pii); the blind index tells the same phone apart for the honour list.
    donor_phone: Mapped[str | None] = mapped_column("donor_phone_enc", Encrypted("donations.donor_phone"))
    donor_phone_index: Mapped[str | None] = mapped_column(String(64))
    donor_credit_code: Mapped[str | None] = mapped_column(String(18))  # companies: 统一社会信用代码
    honour_opt_in: Mapped[bool] = mapped_column(Boolean)
    donated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ledger_group_id: Mapped[int] = mapped_column(ForeignKey("ledger_groups.id"), unique=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Refund(Base):
    __tablename__ = "donation_refunds"
    __table_args__ = (
        bounded("amount_fen", 1, MAX_PAYMENT_FEN),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(300))
    ledger_group_id: Mapped[int] = mapped_column(ForeignKey("ledger_groups.id"), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Disbursement(Base):
    """Money paid from a project to a beneficiary or a supplier (拨付), with its evidence."""

    __tablename__ = "disbursements"
    __table_args__ = (
        bounded("amount_fen", 1, MAX_FUND_FEN),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("payee_kind IN ('beneficiary', 'supplier')", name="payee_kind_known"),
        Index("ix_disbursements_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("project_budget_lines.id"))
    payee_kind: Mapped[str] = mapped_column(String(16))
    payee_name: Mapped[str] = mapped_column(String(100))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[list] = mapped_column(JSON)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    ledger_group_id: Mapped[int] = mapped_column(ForeignKey("ledger_groups.id"), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
