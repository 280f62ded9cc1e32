import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_BALANCE_FEN, MAX_BENEFIT_FEN

ALLOWANCE_TIERS = ("tekun", "dibao", "dibao_marginal", "age_80_plus", "age_60_79")


class AllowanceRate(Base):
    """A dated version of the monthly home-care allowance (居家养老服务补助) for a tier and capability level,
    city-wide (330200) or for one district. Versions are only added."""

    __tablename__ = "allowance_rates"
    __table_args__ = (
        bounded("amount_fen", 0, MAX_BENEFIT_FEN),
        Index(
            "uq_allowance_rates_tier_level_district_effective",
            "tier",
            "level",
            "district_code",
            "effective_on",
            unique=True,
        ),
        CheckConstraint("tier IN (" + ", ".join(f"'{t}'" for t in ALLOWANCE_TIERS) + ")", name="tier_known"),
        CheckConstraint("level BETWEEN 0 AND 4", name="level_range"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)  # capability level 0–4 (GB/T 42195-2022)
    district_code: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(Integer)  # per month
    effective_on: Mapped[dt.date] = mapped_column(Date)
    citation: Mapped[str] = mapped_column(Text)
    is_assumption: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SubsidyAccount(Base):
    """A person's home-care subsidy account. The balance is the sum of its ledger entries, kept on the row so
    a draw is one conditional update; the check constraint makes a negative balance impossible."""

    __tablename__ = "subsidy_accounts"
    __table_args__ = (
        bounded("balance_fen", 0, MAX_BALANCE_FEN),
        CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
        # The tier and level pick the monthly allowance (rate_for): the same domains as the rates'.
        CheckConstraint("tier IN (" + ", ".join(f"'{t}'" for t in ALLOWANCE_TIERS) + ")", name="tier_known"),
        CheckConstraint("level BETWEEN 0 AND 4", name="level_range"),
        CheckConstraint("tier_basis IN ('live', 'fallback')", name="tier_basis_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), unique=True)
    tier: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    balance_fen: Mapped[int] = mapped_column(BigInteger)
    tier_basis: Mapped[str] = mapped_column(String(10))  # live | fallback (assistance did not answer)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# A visit corrected back and forth (verified, flagged, verified, ...) numbers its draws and their reversals 1, 2, 3, ...
MAX_VISIT_SEQ = 10_000


class SubsidyEntry(Base):
    """One ledger entry: a monthly allowance (+), a draw by a verified visit (−), its reversal when staff correct the
    visit to flagged (+, the same amount), or a staff adjustment (±). Entries are only added, never changed.

    A visit's draws and reversals are numbered in turn (`visit_seq`): odd a draw, even the reversal of the draw
    before it, each naming the one before (`prev_seq`, a foreign key to the same visit's entry). With the number
    unique per visit, a visit has at most one live draw (its last entry, when odd), whatever runs at once."""

    __tablename__ = "subsidy_entries"
    __table_args__ = (
        bounded("amount_fen", -MAX_BALANCE_FEN, MAX_BALANCE_FEN),
        bounded("balance_after_fen", 0, MAX_BALANCE_FEN),
        bounded("visit_seq", 1, MAX_VISIT_SEQ),
        CheckConstraint("kind IN ('allowance', 'draw', 'reversal', 'adjustment')", name="kind_known"),
        CheckConstraint(
            "(kind = 'allowance' AND amount_fen >= 0) OR (kind = 'draw' AND amount_fen <= 0)"
            " OR (kind = 'reversal' AND amount_fen >= 0) OR kind = 'adjustment'",
            name="sign_by_kind",
        ),
        CheckConstraint("balance_after_fen >= 0", name="balance_after_not_negative"),
        CheckConstraint(
            "(kind IN ('draw', 'reversal') AND visit_id IS NOT NULL AND visit_seq IS NOT NULL)"
            " OR (kind NOT IN ('draw', 'reversal') AND visit_id IS NULL AND visit_seq IS NULL)",
            name="visit_entries_numbered",
        ),
        CheckConstraint(
            "visit_seq IS NULL OR (kind = 'draw' AND visit_seq % 2 = 1) OR (kind = 'reversal' AND visit_seq % 2 = 0)",
            name="draws_odd_reversals_even",
        ),
        CheckConstraint(
            "(prev_seq IS NULL AND (visit_seq IS NULL OR visit_seq = 1))"
            " OR (visit_seq > 1 AND prev_seq IS NOT NULL AND prev_seq = visit_seq - 1)",
            name="prev_seq_before",
        ),
        # One allowance per account and month, one entry per visit and number: a job or a retry run twice adds nothing.
        Index(
            "uq_subsidy_entries_account_id_month_allowance",
            "account_id",
            "month",
            unique=True,
            sqlite_where=text("kind = 'allowance'"),
            postgresql_where=text("kind = 'allowance'"),
        ),
        UniqueConstraint("visit_id", "visit_seq"),
        ForeignKeyConstraint(["visit_id", "prev_seq"], ["subsidy_entries.visit_id", "subsidy_entries.visit_seq"]),
        Index("ix_subsidy_entries_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("subsidy_accounts.id"))
    kind: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    month: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM, for allowances
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    visit_seq: Mapped[int | None] = mapped_column(Integer)  # draws and reversals of a visit: 1, 2, 3, ...
    prev_seq: Mapped[int | None] = mapped_column(Integer)  # visit_seq - 1, from 2 on
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("allowance_rates.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
