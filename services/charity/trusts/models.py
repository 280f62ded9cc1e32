"""Charity trusts (慈善信托) and community charity funds (社区慈善基金)."""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.db import UTCDateTime, bounded
from shared.money import MAX_FUND_FEN


class Trust(Base):
    __tablename__ = "trusts"
    __table_args__ = (
        bounded("scale_fen", 1, MAX_FUND_FEN),
        CheckConstraint("trustee_kind IN ('trust_company', 'charity')", name="trustee_kind_known"),
        CheckConstraint("scale_fen > 0", name="scale_positive"),
        CheckConstraint("term_ends_on IS NULL OR term_ends_on > established_on", name="term_after_start"),
        Index("ix_trusts_district_code_id", "district_code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    record_number: Mapped[str] = mapped_column(String(60), unique=True)  # 备案编号
    district_code: Mapped[str] = mapped_column(String(6))  # the civil-affairs department it is filed with
    trustee_kind: Mapped[str] = mapped_column(String(16))
    trustee_name: Mapped[str] = mapped_column(String(200))
    trustee_credit_code: Mapped[str] = mapped_column(String(18))
    settlor_name: Mapped[str] = mapped_column(String(200))  # 委托人
    scale_fen: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(Text)
    established_on: Mapped[dt.date] = mapped_column(Date)
    term_ends_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class TrustReport(Base):
    """The trustee's yearly report (年度报告) on the trust's affairs and finances."""

    __tablename__ = "trust_reports"
    __table_args__ = (
        bounded("year_end_scale_fen", 0, MAX_FUND_FEN),
        bounded("spent_fen", 0, MAX_FUND_FEN),
        UniqueConstraint("trust_id", "year"),
        CheckConstraint("year_end_scale_fen >= 0 AND spent_fen >= 0", name="amounts_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trust_id: Mapped[int] = mapped_column(ForeignKey("trusts.id"))
    year: Mapped[int] = mapped_column(Integer)
    year_end_scale_fen: Mapped[int] = mapped_column(BigInteger)
    spent_fen: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[str] = mapped_column(Text)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    submitted_by: Mapped[str] = mapped_column(String(200))


class CommunityFund(Base):
    __tablename__ = "community_funds"
    __table_args__ = (
        bounded("initial_scale_fen", 0, MAX_FUND_FEN),
        CheckConstraint("initial_scale_fen >= 0", name="scale_non_negative"),
        Index("ix_community_funds_district_code", "district_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_code: Mapped[str] = mapped_column(String(12), unique=True)  # one fund per community
    district_code: Mapped[str] = mapped_column(String(6))
    host_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    initial_scale_fen: Mapped[int] = mapped_column(BigInteger)
    established_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CommunityCount(Base):
    """How many communities (村/社区) a district has: the base of fund coverage, stated by staff with its source."""

    __tablename__ = "district_community_counts"
    __table_args__ = (
        bounded("communities", 1, 100_000),
        CheckConstraint("communities > 0", name="communities_positive"),
    )

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    communities: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    set_by: Mapped[str] = mapped_column(String(200))
