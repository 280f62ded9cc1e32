import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.placenames.addresses.schemas import AddressOut
from shared.schemas import Schema

PLATE_CODE_PATTERN = r"^NBMP[0-9]{8}$"


class PlateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    address_codes: list[str] = Field(
        min_length=1, max_length=50, description="The standard addresses the plate carries (一号多址: several)"
    )
    plate_text: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="What the plate reads; by default the road and number of the first address",
        examples=["天童南路588号"],
    )
    what_is_there: str | None = Field(None, max_length=200, description="What is at the address, e.g. 宁波文化广场")
    issued_on: dt.date


class ReplaceIn(Schema):
    model_config = ConfigDict(extra="forbid")
    issued_on: dt.date
    plate_text: str | None = Field(None, min_length=1, max_length=100)


class RevokeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    revoked_on: dt.date


class PlateOut(Schema):
    code: str = Field(description="The code on the plate's QR code (数字门牌)", examples=["NBMP00000001"])
    plate_text: str
    status: Literal["issued", "replaced", "revoked"]
    issued_on: dt.date
    ended_on: dt.date | None = Field(description="Day it was replaced or revoked")
    replaced_by: str | None = Field(description="Code of the plate that replaced this one")
    what_is_there: str | None
    addresses: list[AddressOut]
