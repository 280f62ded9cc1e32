import datetime as dt

from pydantic import ConfigDict, Field

from shared.programmes import ProgrammeCode
from shared.schemas import Schema


class StatusLookupIn(Schema):
    """The ID number goes in the body, never in a URL, so it stays out of logs and caches."""

    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(
        min_length=15,
        max_length=20,
        description="18-character resident ID number (GB 11643)",
        examples=["330203194503150022"],
    )
    purpose: str | None = Field(
        None,
        min_length=4,
        max_length=200,
        examples=["助餐补贴价格核定"],
        description="Why the caller asks; kept in the audit of lookups. Default: `eligibility for <caller>`",
    )


class ProgrammeStatus(Schema):
    code: ProgrammeCode = Field(
        description="dibao 低保, dibao_marginal 低保边缘, tekun 特困, orphan_institution 集中供养"
        "孤儿, orphan_scattered 散居孤儿, child_in_difficulty 困境儿童, disability_living_subsidy "
        "困难残疾人生活补贴, disability_care_subsidy 重度残疾人护理补贴"
    )
    since: dt.date


class StatusLookupOut(Schema):
    id_number_masked: str = Field(examples=["330203********0022"])
    as_of: dt.date
    programmes: list[ProgrammeStatus] = Field(description="Current programmes; empty when the person receives none")
