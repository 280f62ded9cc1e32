import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from shared.areas import DistrictCode
from shared.schemas import Schema

Kind = Literal["road", "street", "lane", "bridge", "residential_area", "building"]
Status = Literal["standard", "alias", "historical"]
EventKind = Literal["naming", "renaming", "unification", "retirement", "rectification"]
NAME_PATTERN = r"^[\u3400-\u9fffA-Za-z0-9·()（）\-]+$"
NAME_DESCRIPTION = "The name as written: Chinese characters, Latin letters, digits, ·, brackets, hyphens"


class Decision(Schema):
    model_config = ConfigDict(extra="forbid")
    decision_document: str = Field(
        min_length=1,
        max_length=200,
        description="批复文号, e.g. 甬政地名〔2024〕12号",
        examples=["甬政地名〔2024〕12号"],
    )
    decided_on: dt.date = Field(description="Date of the decision (批复日期)")
    filed_on: dt.date | None = Field(None, description="Date it was filed (备案); due within 15 days")
    note: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _filed_after_decided(self):
        if self.filed_on is not None and self.filed_on < self.decided_on:
            raise ValueError("filed_on cannot be before decided_on")
        return self


class NameIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1, max_length=100, pattern=NAME_PATTERN, description=NAME_DESCRIPTION, examples=["天童南路"]
    )
    kind: Kind
    district_code: DistrictCode
    status: Status = "standard"
    replaced_by_id: int | None = Field(None, description="For an alias or historical name: the name it stands for")
    note: str | None = Field(None, max_length=1000)
    decision: Decision | None = Field(None, description="For a new standard name: the naming decision (命名批复)")


class EventIn(Decision):
    kind: Literal["renaming", "unification", "retirement", "rectification"] = Field(
        description="renaming 更名 (to `new_name`), unification 统一 (into `into_id`, a standard name), retirement "
        "销名, rectification 不规范地名整治 (to `new_name` or into `into_id`)"
    )
    new_name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=NAME_PATTERN,
        description="For a renaming or rectification: the new standard name",
    )
    into_id: int | None = Field(None, description="The standard name kept, for a unification or rectification")
    unification_group: str | None = Field(None, max_length=50, description="For a unification: the plan's group")


class NameOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: Kind
    status: Status
    district_code: str
    replaced_by_id: int | None
    illustrative: bool = Field(description="Demo data whose history is illustrative, not from a decision on record")
    note: str | None


class StandardOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    district_code: str


class NameDetail(NameOut):
    standard: StandardOut | None = Field(
        description="Today's standard name this name resolves to (itself when "
        "standard); null for a retired name with no successor"
    )
    chain: list[StandardOut] = Field(description="The names passed through, from this one to today's standard name")


class EventOut(Schema):
    id: int
    name_id: int
    result_id: int | None
    kind: EventKind
    decision_document: str
    decided_on: dt.date
    filed_on: dt.date | None
    filing_deadline: dt.date = Field(description="decided_on + 15 days (备案期限)")
    filing_missed: bool = Field(description="Filed after the deadline, or not filed and the deadline has passed")
    unification_group: str | None
    illustrative: bool
    note: str | None
    created_at: dt.datetime


class FilingIn(Schema):
    model_config = ConfigDict(extra="forbid")
    filed_on: dt.date
