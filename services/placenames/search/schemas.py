from typing import Literal

from pydantic import Field

from services.placenames.parsing.schemas import AddressMatch
from shared.schemas import Schema

ItemKind = Literal["address", "district", "township", "community", "road", "area"]


class SearchItem(Schema):
    kind: ItemKind
    text: str = Field(description="What to show: the standard address, or the name as matched")
    standard_name: str = Field(description="Today's standard form (an alias or old name shows what it means now)")
    ref: str = Field(description="Address code, division code or place-name id")
    district_code: str | None
    match: Literal["exact", "prefix", "pinyin", "typo"]
    score: float


class SearchOut(Schema):
    query: str
    items: list[SearchItem]


class GeocodeOut(Schema):
    query: str
    match: AddressMatch | None
    candidates: list[AddressMatch]
    latitude: float | None
    longitude: float | None
    coordinate_level: str | None = Field(
        description="Level of the address the coordinates are from (a room has "
        "its house's coordinates when it has none of its own)"
    )
    confidence: float
    reasons: list[str]


class NearbyAddress(Schema):
    code: str
    full_name: str
    level: str
    latitude: float
    longitude: float
    distance_m: float


class ReverseOut(Schema):
    latitude: float
    longitude: float
    radius_m: float
    items: list[NearbyAddress] = Field(description="Nearest first")
