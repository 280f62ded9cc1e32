import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.eldercare.elders.schemas import Relation
from shared.schemas import Schema


class CareLinkRequestIn(Schema):
    """A resident's request to act for an older person, naming them by ID number and name."""

    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(min_length=15, max_length=20, description="The older person's resident ID number")
    name: str = Field(min_length=1, max_length=50, examples=["王阿娣"])
    relation: Relation


class CareLinkReceipt(Schema):
    """What a resident learns: the request was received. Nothing says whether the person is registered."""

    id: int
    status: Literal["pending", "approved", "rejected"]
    relation: str
    stated_name: str
    id_number_masked: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    elder_id: int | None = Field(description="Only once approved: the person now in your list")


class CareLinkRequestOut(CareLinkReceipt):
    """What staff of the person's area see."""

    requester: str
    elder_id: int | None
    elder_name: str | None = Field(description="The registered person's name, to compare with the stated one")
    name_matches: bool | None
    decided_by: str | None
    decision_note: str | None


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=200, description="How the relation was verified, or why it was not")
