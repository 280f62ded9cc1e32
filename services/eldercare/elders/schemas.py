import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.addresses import AddressIn, AddressOut
from shared.idnumbers import MobilePhone as Phone
from shared.schemas import Schema

Relation = Literal["self", "spouse", "child", "grandchild", "other_relative", "guardian"]


class EmergencyContact(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    phone: Phone
    relation: str = Field(min_length=1, max_length=20, description="e.g. 儿子, 女儿, 邻居")


class CarerIn(Schema):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=200, description="The resident account that may act for the person")
    relation: Relation


class ElderIn(AddressIn):
    """Registration of an older person. Age, sex and birth date come from the ID number; the home's division
    and position from its standard address."""

    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(
        min_length=18,
        max_length=18,
        description="18-character resident ID number (GB 11643)",
        examples=["330203195503150014"],
    )
    name: str = Field(min_length=1, max_length=50, examples=["王阿娣"])
    phone: Phone | None = None
    latitude: float | None = Field(
        None, ge=-90, le=90, description="The home's position, used only when its standard address has none"
    )
    longitude: float | None = Field(None, ge=-180, le=180)
    lives_alone: bool = Field(False, description="独居")
    emergency_contacts: list[EmergencyContact] = Field(default_factory=list, max_length=5)
    carers: list[CarerIn] = Field(
        default_factory=list,
        max_length=10,
        description="Resident accounts that may act for the person (the person, family)",
    )


class ElderOut(AddressOut):
    """An older person as callers see them: ID number and phone masked."""

    id: int
    id_number_masked: str = Field(examples=["330203********0014"])
    name: str
    sex: Literal["male", "female"]
    birth_on: dt.date
    age: int
    is_advanced_age: bool = Field(description="高龄: 80 or older")
    phone_masked: str | None
    lives_alone: bool
    emergency_contacts_count: int
    created_at: dt.datetime
