from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.placenames.names.schemas import Kind
from shared.areas import DistrictCode


class NameCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["天童路"])
    kind: Kind | None = Field(None, description="What the name is for, when known")
    district_code: DistrictCode | None = None


class StandardForm(BaseModel):
    id: int | None
    name: str
    kind: str
    district_code: str | None


class NameCheckOut(BaseModel):
    name: str
    status: Literal["standard", "alias", "historical", "unregistered"]
    is_standard: bool
    standard_forms: list[StandardForm] = Field(description="The standard name(s) to use instead, or similar ones")
    reasons: list[str]
