"""The double-entry ledger (复式记账). Money only moves by appending a balanced group of entries.

Each entry moves money into (`amount_fen` > 0, a debit) or out of (< 0, a credit) one account; the entries
of a group sum to zero. Accounts:
- `clearing` (one per organisation): the donor-facing side; donations flow out of it into projects and
  refunds flow back. Its balance is minus the money the organisation holds for donors' gifts.
- `project` (one per project): the restricted fund of the project; its balance is what it may still spend.
- `disbursement` (one per organisation): money paid out to beneficiaries and suppliers.
So a project's raised, spent and balance are sums over its account's entries, never stored counters.
"""

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_FUND_FEN

ACCOUNT_KINDS = ("clearing", "project", "disbursement")
GROUP_KINDS = ("donation", "refund", "disbursement")


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('clearing', 'project', 'disbursement')", name="kind_known"),
        CheckConstraint("(kind = 'project') = (project_id IS NOT NULL)", name="project_iff_project_account"),
        Index("ix_ledger_accounts_organization_id_id", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "clearing:<org>", "disbursement:<org>", "project:<project>": one account of each, even under races.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LedgerGroup(Base):
    """One movement of money: the header of a balanced group of entries."""

    __tablename__ = "ledger_groups"
    __table_args__ = (
        CheckConstraint("kind IN ('donation', 'refund', 'disbursement')", name="kind_known"),
        CheckConstraint("(kind = 'refund') = (reverses_group_id IS NOT NULL)", name="refund_reverses_a_group"),
        Index("ix_ledger_groups_project_id_kind", "project_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    budget_line_id: Mapped[int | None] = mapped_column(ForeignKey("project_budget_lines.id"))
    reverses_group_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_groups.id"), index=True)
    memo: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        bounded("amount_fen", -MAX_FUND_FEN, MAX_FUND_FEN),
        CheckConstraint("amount_fen <> 0", name="amount_nonzero"),
        # Balances are SUM(amount_fen) per account: an index-only scan.
        Index("ix_ledger_entries_account_id_amount_fen", "account_id", "amount_fen"),
        Index("ix_ledger_entries_group_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("ledger_groups.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class LedgerSeal(Base):
    """Closes a group. A database trigger refuses the seal unless the group's entries balance, and refuses
    any entry added to a sealed group; the same triggers exist on PostgreSQL and SQLite."""

    __tablename__ = "ledger_seals"

    group_id: Mapped[int] = mapped_column(ForeignKey("ledger_groups.id"), primary_key=True)
    entry_count: Mapped[int] = mapped_column(Integer)
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Reconciliation(Base):
    """A run of the reconciliation job (对账) and the differences it found."""

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(primary_key=True)
    balanced: Mapped[bool] = mapped_column(Boolean)
    groups_checked: Mapped[int] = mapped_column(Integer)
    entries_checked: Mapped[int] = mapped_column(BigInteger)
    projects_checked: Mapped[int] = mapped_column(Integer)
    differences: Mapped[list] = mapped_column(JSON)
    area_code: Mapped[str] = mapped_column(String(12))  # the caller's area: only its organisations are checked
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    run_by: Mapped[str] = mapped_column(String(200))
