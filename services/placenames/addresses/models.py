import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.placenames.database import Base
from shared.db import UTCDateTime

LEVELS = ("house", "building", "unit", "room")
LINEAGE_KINDS = ("split", "merge", "rename", "retire")


class CodeCounter(Base):
    """The next number of a code series. Codes are taken with `UPDATE ... SET next_value = next_value + n
    RETURNING`, which serialises allocators on the row and never hands out a number twice, even after the
    address it was given to is retired (rows are never deleted, and the counter never goes back)."""

    __tablename__ = "code_counters"
    __table_args__ = (CheckConstraint("next_value >= 1", name="positive"),)

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger)


class Address(Base):
    """A standard address (标准地址) at house (门牌), building (楼幢), unit (单元) or room (户室) level.

    `code` is issued once from the `address` series and never changes: a renamed road changes the
    address's text, not its code; a split or merge retires the old codes and issues new ones, linked by
    lineage. An address may have no house number (有址无号), but it names a road or a residential area.
    `match_key` is the address's parts as the parser normalises them, unique among current addresses.
    """

    __tablename__ = "addresses"
    __table_args__ = (
        CheckConstraint("level IN ('house', 'building', 'unit', 'room')", name="level_known"),
        CheckConstraint("status IN ('current', 'retired')", name="status_known"),
        CheckConstraint("road_id IS NOT NULL OR area_id IS NOT NULL", name="on_a_road_or_in_an_area"),
        CheckConstraint("(level = 'room') = (room IS NOT NULL)", name="room_level"),
        CheckConstraint("(status = 'retired') = (retired_on IS NOT NULL)", name="retired_dated"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("(latitude IS NULL) = (geohash IS NULL)", name="geohash_with_coordinates"),
        CheckConstraint("(geohash IS NULL) = (cell7 IS NULL)", name="cells_with_geohash"),
        Index(
            "uq_addresses_current_match_key",
            "match_key",
            unique=True,
            postgresql_where=text("status = 'current'"),
            sqlite_where=text("status = 'current'"),
        ),
        Index("ix_addresses_road_id_house_number", "road_id", "house_number"),
        Index("ix_addresses_area_id", "area_id"),
        # A road's or an area's addresses in the order search lists them (houses first, short numbers
        # first): a page is read off the index, with no sort of the road's thousands of addresses.
        Index("ix_addresses_road_order", "road_id", text("length(match_key)"), "match_key"),
        Index("ix_addresses_area_order", "area_id", text("length(match_key)"), "match_key"),
        Index("ix_addresses_district_code_id", "district_code", "id"),
        Index("ix_addresses_cell5", "cell5"),
        Index("ix_addresses_cell6", "cell6"),
        Index("ix_addresses_cell7", "cell7"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    level: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="current")
    district_code: Mapped[str] = mapped_column(String(6))
    township_code: Mapped[str | None] = mapped_column(String(9))
    community_code: Mapped[str | None] = mapped_column(String(12))
    road_id: Mapped[int | None] = mapped_column(ForeignKey("place_names.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("place_names.id"))
    house_number: Mapped[str | None] = mapped_column(String(20))
    building: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(20))
    room: Mapped[str | None] = mapped_column(String(20))
    match_key: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(300))
    search_key: Mapped[str] = mapped_column(
        String(300),
        doc="full_name without 宁波市 (not indexed: search goes through the road or area, see ix_addresses_road_order)",
    )
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    geohash: Mapped[str | None] = mapped_column(String(12))
    # The geohash's 5-, 6- and 7-character prefixes (cells of about 4.9 km, 1.2 km × 0.6 km and 150 m), each
    # indexed: a radius query is an equality lookup on at most nine cells, the same on both backends
    # (a LIKE prefix scan would need text_pattern_ops on PostgreSQL).
    cell5: Mapped[str | None] = mapped_column(String(5))
    cell6: Mapped[str | None] = mapped_column(String(6))
    cell7: Mapped[str | None] = mapped_column(String(7))
    retired_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AddressLineage(Base):
    """How addresses descend from one another: a split (one → many), a merge (many → one), a renaming of
    the road or area they lie on (the same code before and after), a retirement (no successor)."""

    __tablename__ = "address_lineage"
    __table_args__ = (
        CheckConstraint("kind IN ('split', 'merge', 'rename', 'retire')", name="kind_known"),
        CheckConstraint("kind = 'retire' OR to_id IS NOT NULL", name="successor_unless_retired"),
        Index("ix_address_lineage_from_id", "from_id"),
        Index("ix_address_lineage_to_id", "to_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    from_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))
    to_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))
    old_full_name: Mapped[str] = mapped_column(String(300))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
