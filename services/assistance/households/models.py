import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.assistance.database import Base, id_number_index
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime
from shared.pii import Encrypted


class Household(StandardAddress, Base):
    """A household (家庭) applying for or receiving assistance, located by its division code."""

    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_area_code_id", "area_code", "id"),
        Index("ix_households_declared_by_id", "declared_by", "id"),
        *address_table_args("households"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[str] = mapped_column(String(200))
    # The resident who declared the household from the mini-program (网上申请), who alone sees it as theirs;
    # null for households recorded by staff.
    declared_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Member(Base):
    """A person recorded in a household. A person (ID number) is in at most one household: a unique key on the
    blind index of the ID number, which is stored only encrypted."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(
            "relationship IN ('applicant', 'spouse', 'child', 'parent', 'grandparent', 'grandchild', "
            "'sibling', 'other')",
            name="relationship_known",
        ),
        CheckConstraint("residence IN ('registered', 'resident')", name="residence_known"),
        CheckConstraint("labour_capacity IN ('full', 'partial', 'none')", name="labour_capacity_known"),
        CheckConstraint("disability_grade IS NULL OR disability_grade BETWEEN 1 AND 4", name="disability_grade_range"),
        CheckConstraint("(disability_grade IS NULL) = (disability_kind IS NULL)", name="disability_grade_with_kind"),
        CheckConstraint(
            "exclusion IS NULL OR exclusion IN ('in_prison', 'declared_missing', 'religious_away_3y')",
            name="exclusion_known",
        ),
        CheckConstraint("parents IN ('present', 'orphan', 'unsupported')", name="parents_known"),
        # One applicant per household, held by the database even under concurrent writes.
        Index(
            "uq_members_one_applicant",
            "household_id",
            unique=True,
            postgresql_where=text("relationship = 'applicant'"),
            sqlite_where=text("relationship = 'applicant'"),
        ),
        Index("ix_members_household_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    id_number: Mapped[str] = mapped_column("id_number_enc", Encrypted("members.id_number"))
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    birth_on: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(6))
    relationship: Mapped[str] = mapped_column(String(16))
    residence: Mapped[str] = mapped_column(String(16))  # 户籍 registered or 常住 resident
    labour_capacity: Mapped[str] = mapped_column(String(8))
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    disability_kind: Mapped[str | None] = mapped_column(String(16))
    schooling: Mapped[str] = mapped_column(String(20))
    full_time_student: Mapped[bool] = mapped_column(Boolean)
    lives_together: Mapped[bool] = mapped_column(Boolean)
    legal_duty_of_support: Mapped[bool] = mapped_column(Boolean)
    exclusion: Mapped[str | None] = mapped_column(String(20))
    parents: Mapped[str] = mapped_column(String(12))  # for children: 孤儿 orphan, 事实无人抚养 unsupported
    in_institution: Mapped[bool] = mapped_column(Boolean)  # 集中供养 (lives in a welfare institution)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    @validates("id_number")
    def _index_id_number(self, _key: str, value: str) -> str:
        self.id_number_index = id_number_index(value)
        return value
