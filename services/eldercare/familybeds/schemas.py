import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema

Package = Literal["basic", "standard", "intensive"]


class FamilyBedIn(Schema):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    provider_id: int = Field(gt=0)
    package: Package = Field(description="basic 基础, standard 标准, intensive 强化 service package")
    visits_per_month: int = Field(ge=1, le=62, strict=True)
    started_on: dt.date


class EndIn(Schema):
    model_config = ConfigDict(extra="forbid")
    ended_on: dt.date


class FamilyBedOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    elder_id: int
    provider_id: int
    package: Package
    visits_per_month: int
    started_on: dt.date
    ended_on: dt.date | None
    status: Literal["active", "ended"]
