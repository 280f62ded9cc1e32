import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shared.areas import CITY_CODE, DISTRICT_OR_CITY_PATTERN
from shared.money import MAX_BALANCE_FEN, MAX_BENEFIT_FEN, fen
from shared.schemas import Month, Schema

AllowanceTier = Literal["tekun", "dibao", "dibao_marginal", "age_80_plus", "age_60_79"]
DistrictOrCity = Annotated[
    str,
    Field(
        pattern=DISTRICT_OR_CITY_PATTERN, examples=[CITY_CODE], description="330200 (city-wide) or a district of Ningbo"
    ),
]


class AllowanceRateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    tier: AllowanceTier
    level: int = Field(ge=0, le=4, strict=True, description="Capability level (0 能力完好 … 4 完全失能)")
    district_code: DistrictOrCity = CITY_CODE
    amount_fen: int = fen("Allowance per month", maximum=MAX_BENEFIT_FEN)
    effective_on: dt.date
    citation: str = Field(min_length=2, max_length=2000)
    is_assumption: bool = False


class AllowanceRateOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tier: AllowanceTier
    level: int
    district_code: str
    amount_fen: int
    effective_on: dt.date
    citation: str
    is_assumption: bool


class AccountIn(Schema):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    level: int | None = Field(
        None, ge=0, le=4, strict=True, description="Capability level; default: the person's latest recorded assessment"
    )


class AccountOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    elder_id: int
    tier: AllowanceTier
    level: int
    tier_basis: Literal["live", "fallback"]
    balance_fen: int
    opened_at: dt.datetime


class EntryOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: Literal["allowance", "draw", "reversal", "adjustment"]
    amount_fen: int = Field(description="Signed: + credits, − draws")
    balance_after_fen: int
    month: str | None
    visit_id: int | None
    note: str | None
    created_at: dt.datetime


class GrantIn(Schema):
    model_config = ConfigDict(extra="forbid")
    month: Month = Field(description="The month (YYYY-MM, Asia/Shanghai): this one or an earlier one")


class GrantReport(Schema):
    month: str
    accounts_credited: int
    total_fen: int


class AdjustmentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = fen(
        "Signed: + credits, − debits; a debit larger than the balance is refused, and so is a "
        "credit that would take the balance past its bound (the same as this one's)",
        minimum=-MAX_BALANCE_FEN,
        maximum=MAX_BALANCE_FEN,
    )
    note: str = Field(min_length=4, max_length=500)
