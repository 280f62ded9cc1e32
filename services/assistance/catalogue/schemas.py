import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.areas import AreaCode
from shared.schemas import Schema

Category = Literal["care_visit", "psychological_support", "tutoring", "housing_repair", "employment_help", "other"]
Need = Literal[
    "older_person",
    "lives_alone_or_elderly_couple",
    "disability",
    "severe_disability",
    "child",
    "student",
    "low_income",
    "unable_to_work",
    "housing",
    "psychological",
    "daily_care",
    "employment",
]
MatchState = Literal["proposed", "accepted", "delivered", "declined"]


class CatalogueServiceIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100, examples=["助残上门护理"])
    category: Category
    provider: str = Field(min_length=2, max_length=100, examples=["鄞州区阳光社工服务中心"])
    area_code: AreaCode = Field(description="Households in this area and below may be served")
    needs: list[Need] = Field(min_length=1, max_length=12, description="The needs the service answers")
    description: str = Field("", max_length=2000)


class CatalogueServiceOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    category: Category
    provider: str
    area_code: str
    needs: list[Need]
    description: str
    active: bool
    created_at: dt.datetime


class MatchRequest(Schema):
    model_config = ConfigDict(extra="forbid")
    household_id: int
    service_id: int | None = Field(
        None, description="A given service; without it every suitable service in the household's area is proposed"
    )


class MatchStateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    state: Literal["accepted", "delivered", "declined"]
    note: str | None = Field(None, max_length=1000)


class MatchOut(Schema):
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


class NeedIn(Schema):
    """A need found on a visit. Some needs are also derived from the register (older person, disability, …)."""

    model_config = ConfigDict(extra="forbid")
    need: Need = Field(
        description="e.g. psychological 心理疏导, daily_care 日常照料, employment 就业帮扶, housing 住房"
    )
    note: str = Field(min_length=2, max_length=1000, examples=["入户走访：丧偶后情绪低落，愿意接受心理疏导"])


class NeedOut(Schema):
    need: Need
    basis: Literal["derived", "recorded"] = Field(
        description="derived from the register, programmes and signals, or recorded by a worker"
    )
    note: str | None
    recorded_by: str | None
    recorded_at: dt.datetime | None


class HouseholdNeedsOut(Schema):
    household_id: int
    needs: list[NeedOut]
