import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.areas import DistrictCode
from shared.money import MAX_FUND_FEN, fen
from shared.schemas import Schema


class TrustIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200, examples=["光大·宁波市慈善总会乡村振兴慈善信托"])
    record_number: str = Field(min_length=1, max_length=60, description="备案编号")
    district_code: DistrictCode = Field(description="The civil-affairs department it is filed with")
    trustee_kind: Literal["trust_company", "charity"] = Field(description="受托人: a trust company or a charity")
    trustee_name: str = Field(min_length=2, max_length=200)
    trustee_credit_code: str = Field(min_length=18, max_length=30)
    settlor_name: str = Field(min_length=1, max_length=200, description="委托人")
    scale_fen: int = fen("Trust property at establishment (信托规模)", minimum=1, maximum=MAX_FUND_FEN)
    purpose: str = Field(min_length=1, max_length=2000)
    established_on: dt.date
    term_ends_on: dt.date | None = Field(None, description="Null for a perpetual trust")


class TrustOut(Schema):
    id: int
    name: str
    record_number: str
    district_code: str
    trustee_kind: str
    trustee_name: str
    trustee_credit_code: str
    settlor_name: str
    scale_fen: int
    purpose: str
    established_on: dt.date
    term_ends_on: dt.date | None
    reported_years: list[int]


class TrustReportIn(Schema):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2016, le=2100)
    year_end_scale_fen: int = fen("Trust property at the year's end", maximum=MAX_FUND_FEN)
    spent_fen: int = fen("Spent on charity in the year", maximum=MAX_FUND_FEN)
    summary: str = Field(min_length=1, max_length=10000)


class TrustReportOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    trust_id: int
    year: int
    year_end_scale_fen: int
    spent_fen: int
    summary: str
    submitted_on: dt.date


class OverdueReport(Schema):
    trust_id: int
    name: str
    district_code: str
    year: int
    due_on: dt.date
    days_overdue: int


class CommunityFundIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200, examples=["百丈街道划船社区慈善基金"])
    community_code: str = Field(pattern=r"^[0-9]{12}$", description="The community's 12-digit division code")
    host_organization_id: int | None = Field(None, description="The charity that holds the fund, if any")
    initial_scale_fen: int = fen("The fund's property when established", maximum=MAX_FUND_FEN)
    established_on: dt.date


class CommunityFundOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    community_code: str
    district_code: str
    host_organization_id: int | None
    initial_scale_fen: int
    established_on: dt.date


class CommunityCountIn(Schema):
    model_config = ConfigDict(extra="forbid")
    communities: int = Field(ge=1, le=100_000, description="Villages and communities (村、社区) in the district")
    as_of: dt.date
    source: str = Field(min_length=1, max_length=200, description="Where the number comes from")


class DistrictCoverage(Schema):
    district_code: str
    communities: int | None = Field(description="Null until staff state the district's number of communities")
    with_fund: int
    coverage_pct: float | None
    met: bool


class Coverage(Schema):
    target_pct: int
    communities: int
    with_fund: int
    coverage_pct: float | None
    met: bool
    districts: list[DistrictCoverage]
