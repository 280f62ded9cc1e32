import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.assistance.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_ASSET_FEN, MAX_PERIOD_INCOME_FEN
from shared.pii import EncryptedInteger

# The purposes bound into the incomes' ciphertexts (a value copied into the other column does not decrypt).
AMOUNT_PURPOSE, MONTHLY_PURPOSE = "incomes.amount_fen", "incomes.monthly_fen"
SOURCE_CHECK = "source_kind IN ('department', 'applicant')"


class Income(Base):
    """One income of a member over a period of whole months, with where the figure came from.

    `monthly_fen` (the amount spread over the months, rounded down) and `exempt` are fixed when the figure is
    recorded, so the single check and the set-based screening read the same numbers.

    Both amounts are stored encrypted (`amount_fen_enc`, `monthly_fen_enc`; see services/assistance/pii.py): the
    database can no longer check that they are not negative, so `IncomeIn` (a non-negative amount) and
    `add_income` are what hold it. What is not an amount (kind, item, exemption, period, source) stays in the
    clear for the screening to select rows by.
    """

    __tablename__ = "incomes"
    __table_args__ = (
        CheckConstraint("months BETWEEN 1 AND 12", name="months_range"),
        CheckConstraint("kind IN ('wages', 'business', 'property', 'transfer', 'pension')", name="kind_known"),
        CheckConstraint(SOURCE_CHECK, name="source_kind_known"),
        Index("ix_incomes_household_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    item: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column("amount_fen_enc", EncryptedInteger(AMOUNT_PURPOSE))
    period_from: Mapped[dt.date] = mapped_column(Date)  # first day of the first month
    months: Mapped[int] = mapped_column(SmallInteger)
    monthly_fen: Mapped[int] = mapped_column("monthly_fen_enc", EncryptedInteger(MONTHLY_PURPOSE))
    exempt: Mapped[bool] = mapped_column(Boolean)
    source_kind: Mapped[str] = mapped_column(String(12))
    source_name: Mapped[str] = mapped_column(String(100))
    source_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Asset(Base):
    """An asset of the household or of one member (deposits, securities, vehicles, housing), with its source."""

    __tablename__ = "assets"
    __table_args__ = (
        bounded("value_fen", 0, MAX_ASSET_FEN),
        CheckConstraint("value_fen >= 0", name="value_not_negative"),
        CheckConstraint("kind IN ('deposit', 'securities', 'vehicle', 'housing')", name="kind_known"),
        CheckConstraint(SOURCE_CHECK, name="source_kind_known"),
        Index("ix_assets_household_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value_fen: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(200))
    source_kind: Mapped[str] = mapped_column(String(12))
    source_name: Mapped[str] = mapped_column(String(100))
    source_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MedicalExpense(Base):
    """A rigid medical expense (刚性医疗支出) of a member: what the household paid itself after insurance, over a
    period of whole months, with its source (医保 settlement data or the applicant's receipts). Feeds the
    支出型 (expenditure-type) assessment: see `eligibility.rules.expenditure_type`."""

    __tablename__ = "medical_expenses"
    __table_args__ = (
        bounded("amount_fen", 0, MAX_PERIOD_INCOME_FEN),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        CheckConstraint("months BETWEEN 1 AND 12", name="months_range"),
        CheckConstraint(SOURCE_CHECK, name="source_kind_known"),
        Index("ix_medical_expenses_household_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    period_from: Mapped[dt.date] = mapped_column(Date)  # first day of the first month
    months: Mapped[int] = mapped_column(SmallInteger)
    description: Mapped[str] = mapped_column(String(200))
    source_kind: Mapped[str] = mapped_column(String(12))
    source_name: Mapped[str] = mapped_column(String(100))
    source_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
