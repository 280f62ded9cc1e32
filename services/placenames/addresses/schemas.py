import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.areas import AreaCode, DistrictCode
from shared.schemas import Schema

Level = Literal["house", "building", "unit", "room"]
# Dashes of every width (12－1, 12—1: text.WIDTH makes them 12-1), Han characters for 号, 之 (12号之一) and 附 (附1号).
MAX_PART = 20  # the columns' length, as stored (text.canonical_part)
PART = dict(max_length=MAX_PART, pattern=r"^[0-9０-９A-Za-zＡ-Ｚａ-ｚ\-‐‑‒–—―−－﹣\u3007\u4e00-\u9fff]+$")


class AddressIn(Schema):
    """The parts of a standard address. Numbers may be written '588', '588号', '５８８' or '五百八十八'."""

    model_config = ConfigDict(extra="forbid")
    district_code: DistrictCode
    township_code: AreaCode | None = Field(None, description="乡镇（街道）: 9-digit NBS statistical code")
    community_code: AreaCode | None = Field(None, description="村（社区）: 12-digit NBS statistical code")
    road_id: int | None = Field(None, ge=1, description="A standard road, street, lane or bridge name")
    area_id: int | None = Field(None, ge=1, description="A standard residential area or building name")
    house_number: str | None = Field(None, description="门牌号; none for 有址无号", examples=["588"], **PART)
    building: str | None = Field(None, description="幢/栋/号楼", examples=["3"], **PART)
    unit: str | None = Field(None, description="单元", examples=["2"], **PART)
    room: str | None = Field(None, description="室", examples=["501"], **PART)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class AddressOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    code: str = Field(description="Stable code: issued once, never changed, never reused")
    level: Level
    status: Literal["current", "retired"]
    full_name: str = Field(examples=["宁波市鄞州区天童南路588号3幢2单元501室"])
    district_code: str
    township_code: str | None
    community_code: str | None
    road_id: int | None
    area_id: int | None
    house_number: str | None
    building: str | None
    unit: str | None
    room: str | None
    latitude: float | None
    longitude: float | None
    retired_on: dt.date | None


class LineageOut(Schema):
    kind: Literal["split", "merge", "rename", "retire"]
    from_code: str
    to_code: str | None
    old_full_name: str
    decided_on: dt.date
    note: str | None


class PlateRef(Schema):
    model_config = ConfigDict(from_attributes=True)
    code: str
    plate_text: str
    status: Literal["issued", "replaced", "revoked"]


class AddressDetail(AddressOut):
    lineage: list[LineageOut] = Field(description="Where this address came from and what it became")
    plates: list[PlateRef] = Field(description="Door plates carrying this address (多号一址: possibly several)")


class ChangeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    decided_on: dt.date
    note: str | None = Field(None, max_length=1000)


class SplitIn(ChangeIn):
    into: list[AddressIn] = Field(min_length=2, max_length=100, description="The addresses it becomes")


class MergeIn(ChangeIn):
    codes: list[str] = Field(min_length=2, max_length=100, description="Codes of the current addresses merged")
    into: AddressIn


class ChangeOut(Schema):
    retired: list[str]
    issued: list[AddressOut]
