import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.areas import AreaCode
from shared.idnumbers import MobilePhone
from shared.schemas import Schema

Category = Literal[
    "food",
    "clothing",
    "daily_goods",
    "medical",
    "education",
    "elderly_care",
    "disability",
    "housing",
    "volunteer_service",
    "other",
]
Urgency = Literal["low", "medium", "high", "critical"]


class NeedIn(Schema):
    model_config = ConfigDict(extra="forbid")
    area_code: AreaCode = Field(description="The community (12 digits) or street (9) publishing the need")
    category: Category
    title: str = Field(min_length=2, max_length=200, examples=["独居老人冬季棉被"])
    description: str = Field(min_length=1, max_length=5000)
    quantity: int = Field(ge=1, le=10**9)
    unit: str = Field(min_length=1, max_length=10, examples=["床"])
    urgency: Urgency
    deadline: dt.date


class NeedOut(Schema):
    id: int
    area_code: str
    category: Category
    title: str
    description: str
    quantity: int
    unit: str
    urgency: Urgency
    deadline: dt.date
    matched_quantity: int
    fulfilled_quantity: int
    status: Literal["open", "matched", "fulfilled", "expired"]
    created_at: dt.datetime


class OfferIn(Schema):
    model_config = ConfigDict(extra="forbid")
    offerer_kind: Literal["person", "company", "organization"]
    offerer_name: str = Field(min_length=1, max_length=100)
    contact_phone: MobilePhone
    area_code: AreaCode = Field(
        description="Where it can be delivered: 330200 for the whole city, a district, a street or a community"
    )
    category: Category
    description: str = Field(min_length=1, max_length=2000)
    quantity: int = Field(ge=1, le=10**9)
    unit: str = Field(min_length=1, max_length=10)
    available_until: dt.date


class OfferOut(Schema):
    id: int
    offerer_kind: str
    offerer_name: str
    contact_phone_masked: str
    area_code: str
    category: Category
    description: str
    quantity: int
    unit: str
    available_until: dt.date
    allocated_quantity: int
    remaining_quantity: int


class Proposal(Schema):
    offer: OfferOut
    score: int = Field(
        description="Higher is better: nearer area first, then an offer that covers the whole "
        "remaining need, then the one that expires soonest"
    )
    proposed_quantity: int
    reasons: list[str]


class MatchIn(Schema):
    model_config = ConfigDict(extra="forbid")
    need_id: int
    offer_id: int
    quantity: int = Field(ge=1, le=10**9)


class MatchOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    need_id: int
    offer_id: int
    quantity: int
    delivered_quantity: int
    confirmed_at: dt.datetime


class DeliveryIn(Schema):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=1, le=10**9)
