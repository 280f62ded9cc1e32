import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
    or_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from services.charity.database import Base
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime, bounded
from shared.money import MAX_FUND_FEN

STATUSES = ("draft", "filed", "fundraising", "executing", "closed")


class shanghai_date(FunctionElement):
    """The Shanghai date of a UTC instant (a `UTCDateTime` column), in SQL: a civil date is compared with it.
    Shanghai has kept UTC+8 without summer time since 1991, so SQLite's fixed offset gives the same day."""

    type = Date()
    inherit_cache = True


@compiles(shanghai_date, "postgresql")
def _shanghai_date_postgresql(element, compiler, **kw):
    return f"CAST(timezone('Asia/Shanghai', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(shanghai_date)
def _shanghai_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


class Project(Base):
    """A charity project (慈善项目) of one organisation, from its draft to its closing."""

    __tablename__ = "projects"
    __table_args__ = (
        bounded("target_fen", 1, MAX_FUND_FEN),
        bounded("beneficiary_count", 1, 100_000_000),
        CheckConstraint("status IN ('draft', 'filed', 'fundraising', 'executing', 'closed')", name="status_known"),
        CheckConstraint("target_fen > 0", name="target_positive"),
        CheckConstraint("ends_on >= starts_on", name="period_ordered"),
        CheckConstraint("(status = 'draft') = (filed_on IS NULL)", name="filed_on_iff_filed"),
        CheckConstraint(
            or_(column("filed_on").is_(None), column("filed_on") >= shanghai_date(column("created_at"))),
            name="filed_after_created",
        ),
        CheckConstraint("NOT emergency OR public_fundraising", name="emergency_is_public"),
        Index("ix_projects_district_code_id", "district_code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    district_code: Mapped[str] = mapped_column(String(6))  # the organisation's, copied for area filters
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    beneficiaries: Mapped[str] = mapped_column(Text)
    beneficiary_count: Mapped[int | None] = mapped_column(Integer)
    public_fundraising: Mapped[bool] = mapped_column(Boolean)
    emergency: Mapped[bool] = mapped_column(Boolean)
    target_fen: Mapped[int] = mapped_column(BigInteger)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    filing_number: Mapped[str | None] = mapped_column(String(60))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class BudgetLine(Base):
    """One line of a project's budget (预算); spending against it is read from the ledger."""

    __tablename__ = "project_budget_lines"
    __table_args__ = (
        bounded("amount_fen", 1, MAX_FUND_FEN),
        UniqueConstraint("project_id", "line_no"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class Disclosure(Base):
    """A public disclosure (信息公开) of a project. Append-only: a correction is a new row naming the one it corrects."""

    __tablename__ = "project_disclosures"
    __table_args__ = (
        CheckConstraint("kind IN ('plan', 'progress', 'final', 'correction')", name="kind_known"),
        CheckConstraint("(kind = 'correction') = (corrects_id IS NOT NULL)", name="correction_names_original"),
        Index("ix_project_disclosures_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    period_from: Mapped[dt.date | None] = mapped_column(Date)
    period_to: Mapped[dt.date | None] = mapped_column(Date)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("project_disclosures.id"))
    published_on: Mapped[dt.date] = mapped_column(Date)
    published_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ProjectSite(StandardAddress, Base):
    """A place where a project is carried out (项目实施地点): a community centre, a school, a canteen. Its address is
    a standard address like every place the suite stores (一址通): its division, derived from the address, says
    which area's staff and statistics it belongs to, and placenames' changes reach it through the change feed."""

    __tablename__ = "project_sites"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        *address_table_args("project_sites"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(100))
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
