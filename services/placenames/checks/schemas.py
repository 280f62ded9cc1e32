from typing import Literal

from pydantic import ConfigDict, Field

from services.placenames.names.schemas import Kind
from shared.areas import DistrictCode
from shared.schemas import Schema


class NameCheckIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["天童路"])
    kind: Kind | None = Field(None, description="What the name is for, when known")
    district_code: DistrictCode | None = None


class StandardForm(Schema):
    id: int | None
    name: str
    kind: str
    district_code: str | None


class NameCheckOut(Schema):
    name: str
    status: Literal["standard", "alias", "historical", "unregistered"]
    is_standard: bool
    standard_forms: list[StandardForm] = Field(description="The standard name(s) to use instead, or similar ones")
    reasons: list[str]
