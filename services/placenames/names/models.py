import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.placenames.database import Base
from shared.db import UTCDateTime

KINDS = ("road", "street", "lane", "bridge", "residential_area", "building")
STATUSES = ("standard", "alias", "historical")
EVENT_KINDS = ("naming", "renaming", "unification", "retirement", "rectification")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PlaceName(Base):
    """A place name (地名): a road, street, lane, bridge, residential area or building.

    A standard name (标准名称) points nowhere; an alias (别名, a non-standard form still heard) and a
    historical name (历史名称, replaced by a renaming or unification) point at the name that replaced
    them, which may itself have been replaced since: resolving follows the chain to today's name. A
    retired name is historical and points nowhere.
    """

    __tablename__ = "place_names"
    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="kind_known"),
        CheckConstraint(_in("status", STATUSES), name="status_known"),
        CheckConstraint("status <> 'standard' OR replaced_by_id IS NULL", name="standard_points_nowhere"),
        CheckConstraint("status <> 'alias' OR replaced_by_id IS NOT NULL", name="alias_points_somewhere"),
        CheckConstraint("replaced_by_id IS NULL OR replaced_by_id <> id", name="not_its_own_successor"),
        # One standard name per kind and district: the same road name may exist in two districts (人民路).
        Index(
            "uq_place_names_standard",
            "district_code",
            "kind",
            "name",
            unique=True,
            postgresql_where=text("status = 'standard'"),
            sqlite_where=text("status = 'standard'"),
        ),
        Index("ix_place_names_name", "name"),
        Index("ix_place_names_replaced_by_id", "replaced_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    district_code: Mapped[str] = mapped_column(String(12))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("place_names.id"))
    illustrative: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="Demo row whose history or existence is illustrative, not sourced"
    )
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class NameEvent(Base):
    """A decision about a name (地名命名、更名、统一、销名、不规范地名整治) and its filing (备案).

    `name_id` is the name decided about; `result_id` the standard name it leads to (the new name of a
    renaming, the name kept by a unification). The decision must be filed within 15 days.
    """

    __tablename__ = "name_events"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind_known"),
        CheckConstraint("filed_on IS NULL OR filed_on >= decided_on", name="filed_after_decision"),
        CheckConstraint("kind IN ('naming', 'retirement') OR result_id IS NOT NULL", name="result_when_replaced"),
        Index("ix_name_events_name_id_id", "name_id", "id"),
        Index("ix_name_events_result_id", "result_id"),
        Index("ix_name_events_kind_decided_on", "kind", "decided_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name_id: Mapped[int] = mapped_column(ForeignKey("place_names.id"))
    result_id: Mapped[int | None] = mapped_column(ForeignKey("place_names.id"))
    kind: Mapped[str] = mapped_column(String(20))
    decision_document: Mapped[str] = mapped_column(String(200))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    unification_group: Mapped[str | None] = mapped_column(String(50))
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
