import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.addresses import AddressIn, AddressOut
from shared.areas import DistrictCode
from shared.idnumbers import MobilePhone as Phone
from shared.schemas import Schema

Grade = Literal["1A", "2A", "3A", "4A", "5A"]


class OrganizationIn(AddressIn):
    """Registration of a social organisation (社会组织) in the bureau's register. Its domicile (住所) is a standard
    address (`address_code`) or free text standardised through placenames (`address`), in its district."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100, examples=["宁波市善园公益基金会"])
    unified_social_credit_code: str = Field(
        min_length=18,
        max_length=30,
        description="统一社会信用代码 (GB 32100): "
        "18 characters, the last a check character; for organisations "
        "registered by civil affairs it starts with 5",
        examples=["53330200MJ9000001T"],
    )
    registered_on: dt.date = Field(description="Date of registration (登记日期)")
    district_code: DistrictCode = Field(description="The district it is registered in; its domicile lies in it")
    is_charity: bool = Field(False, description="认定为慈善组织 (recognised as a charity under the Charity Law)")
    recognised_on: dt.date | None = Field(
        None, description="Date of recognition as a charity; required when `is_charity`"
    )
    evaluation_grade: Grade | None = Field(None, description="社会组织评估等级 1A–5A; null when not evaluated")
    contact_name: str = Field(min_length=1, max_length=50)
    contact_phone: Phone


class FundraisingGrantIn(Schema):
    model_config = ConfigDict(extra="forbid")
    granted_on: dt.date | None = Field(None, description="Date of the grant; default today (Asia/Shanghai)")


class OrganizationOut(AddressOut):
    """An organisation as anyone may see it: the contact phone is always masked."""

    id: int
    name: str
    unified_social_credit_code: str
    registered_on: dt.date
    district_code: str
    is_charity: bool
    recognised_on: dt.date | None
    evaluation_grade: Grade | None
    has_public_fundraising_qualification: bool = Field(description="具有公开募捐资格")
    fundraising_qualified_on: dt.date | None
    contact_name: str
    contact_phone_masked: str = Field(examples=["138****1234"])
    created_at: dt.datetime
