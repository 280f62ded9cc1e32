import datetime as dt
from typing import Literal

from pydantic import Field

from shared.areas import AreaCode
from shared.divisions import division_code
from shared.schemas import Schema

Level = Literal["city", "district", "township", "village"]
LEVEL_LABELS = {"city": "市", "district": "区县（市）", "township": "乡镇（街道）", "village": "村（社区）"}

DivisionCode = AreaCode


class DivisionOut(Schema):
    code: str = Field(examples=[division_code("鄞州区")])
    name: str = Field(examples=["鄞州区"])
    level: Level = Field(description="city 市, district 区县（市）, township 乡镇（街道）, village 村（社区）")
    parent_code: str | None
    valid_from: dt.date | None = Field(description="First day in force; null when no source dates it")
    valid_to: dt.date | None = Field(description="Day it ceased (exclusive); null while current")
    is_current: bool
    successor_code: str | None
    source: str | None
    note: str | None


class DivisionDetail(DivisionOut):
    ancestors: list[DivisionOut] = Field(
        description="Parent chain from the top (宁波市) down to the direct parent; empty for the city"
    )
    successors: list[DivisionOut] = Field(
        description="For a historical division, what succeeded it, following "
        "the chain to a current division; empty for a current one"
    )
