import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.charity.database import Base
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime


class Organization(StandardAddress, Base):
    """A social organisation registered with the bureau (社会组织), possibly recognised as a charity (慈善组织).
    Its domicile (住所) is a standard address; `district_code` is the district it is registered in."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(
            "(is_charity AND recognised_on IS NOT NULL) OR (NOT is_charity AND recognised_on IS NULL)",
            name="recognised_on_iff_charity",
        ),
        CheckConstraint("recognised_on IS NULL OR recognised_on >= registered_on", name="recognised_after_registered"),
        CheckConstraint(
            "fundraising_qualified_on IS NULL OR (is_charity AND fundraising_qualified_on >= recognised_on)",
            name="qualified_only_charities",
        ),
        CheckConstraint(
            "evaluation_grade IS NULL OR evaluation_grade IN ('1A', '2A', '3A', '4A', '5A')",
            name="evaluation_grade_known",
        ),
        Index("ix_organizations_district_code_id", "district_code", "id"),
        *address_table_args("organizations"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unified_social_credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    registered_on: Mapped[dt.date] = mapped_column(Date)
    district_code: Mapped[str] = mapped_column(String(6))
    is_charity: Mapped[bool] = mapped_column(Boolean, default=False)
    recognised_on: Mapped[dt.date | None] = mapped_column(Date)
    evaluation_grade: Mapped[str | None] = mapped_column(String(2))
    fundraising_qualified_on: Mapped[dt.date | None] = mapped_column(Date)
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(20))
    registered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
