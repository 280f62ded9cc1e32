import datetime as dt

from sqlalchemy import CheckConstraint, Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.placenames.database import Base


class Division(Base):
    """An administrative division (行政区划), current or historical, keyed by its code.

    `parent_code` and `successor_code` are plain codes, not foreign keys: the city's parent (浙江省 330000)
    is outside this register. The loader checks that every other reference resolves.
    """

    __tablename__ = "divisions"
    __table_args__ = (
        CheckConstraint("level IN ('city', 'district', 'township', 'village')", name="level_known"),
        CheckConstraint(
            "(level IN ('city', 'district') AND length(code) = 6) OR (level = 'township' AND "
            "length(code) = 9) OR (level = 'village' AND length(code) = 12)",
            name="code_fits_level",
        ),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="valid_range"),
        CheckConstraint("successor_code IS NULL OR valid_to IS NOT NULL", name="successor_only_when_ended"),
        Index("ix_divisions_parent_code_code", "parent_code", "code"),
        Index("ix_divisions_level_code", "level", "code"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(String(12))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    successor_code: Mapped[str | None] = mapped_column(String(12))
    source: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class DivisionFormerName(Base):
    """A name a division had before, under the code it keeps (中马街道 is 外滩街道's former name, same code), or
    the name of one merged into it that has no row of its own. The parser reads it as an old name of `code`."""

    __tablename__ = "division_former_names"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # When the name stopped being used; an upper bound when the source brackets the change (its note says so).
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
