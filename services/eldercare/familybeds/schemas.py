import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Package = Literal["basic", "standard", "intensive"]


class FamilyBedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    provider_id: int = Field(gt=0)
    package: Package = Field(description="basic 基础, standard 标准, intensive 强化 service package")
    visits_per_month: int = Field(ge=1, le=62, strict=True)
    started_on: dt.date


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ended_on: dt.date


class FamilyBedOut(BaseModel):
    id: int
    elder_id: int
    provider_id: int
    package: Package
    visits_per_month: int
    started_on: dt.date
    ended_on: dt.date | None
    status: Literal["active", "ended"]
