import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.areas import AreaCode

Category = Literal["care_visit", "psychological_support", "tutoring", "housing_repair", "employment_help", "other"]
Need = Literal["older_person", "lives_alone_or_elderly_couple", "disability", "severe_disability", "child",
               "student", "low_income", "unable_to_work", "housing"]
MatchState = Literal["proposed", "accepted", "delivered", "declined"]


class CatalogueServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100, examples=["助残上门护理"])
    category: Category
    provider: str = Field(min_length=2, max_length=100, examples=["鄞州区阳光社工服务中心"])
    area_code: AreaCode = Field(description="Households in this area and below may be served")
    needs: list[Need] = Field(min_length=1, max_length=9, description="The needs the service answers")
    description: str = Field("", max_length=2000)


class CatalogueServiceOut(BaseModel):
    id: int
    name: str
    category: Category
    provider: str
    area_code: str
    needs: list[Need]
    description: str
    active: bool
    created_at: dt.datetime


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    household_id: int
    service_id: int | None = Field(None, description="A given service; without it every suitable service in the "
                                   "household's area is proposed")


class MatchStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["accepted", "delivered", "declined"]
    note: str | None = Field(None, max_length=1000)


class MatchOut(BaseModel):
    id: int
    service_id: int
    service_name: str
    household_id: int
    area_code: str
    state: MatchState
    needs_met: list[Need]
    note: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
