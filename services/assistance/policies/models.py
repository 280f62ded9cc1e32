import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.assistance.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_ASSET_FEN


class PolicyVersion(Base):
    """One dated version of a policy parameter (低保标准, 特困供养标准, ...), city-wide or for one district.

    Versions are only ever added: a new figure is a new row with a later `effective_on`.
    """

    __tablename__ = "policy_versions"
    __table_args__ = (
        bounded("value", 0, MAX_ASSET_FEN),
        UniqueConstraint("code", "district_code", "effective_on"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("unit IN ('fen', 'fen_per_month', 'fen_per_year', 'permille', 'months')", name="unit_known"),
        # A period in months (income_assessment_months) is 1 to 12: 0 would divide the period's income by nothing.
        CheckConstraint("unit <> 'months' OR value BETWEEN 1 AND 12", name="months_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    district_code: Mapped[str] = mapped_column(String(6))
    value: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    citation: Mapped[str] = mapped_column(Text)
    is_assumption: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
