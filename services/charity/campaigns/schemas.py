import datetime as dt

from pydantic import ConfigDict, Field

from shared.areas import AreaCode, DistrictCode
from shared.schemas import Schema


class CampaignIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200, examples=["2026年宁波市慈善一日捐"])
    area_code: AreaCode = Field(description="The area whose bureau runs the campaign")
    project_id: int = Field(description="The fundraising project (募捐中) that receives the money")
    starts_on: dt.date
    ends_on: dt.date
    participation_target_pct: int = Field(95, ge=1, le=100)


class CampaignOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    area_code: str
    project_id: int
    starts_on: dt.date
    ends_on: dt.date
    participation_target_pct: int
    created_at: dt.datetime


class UnitIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200, examples=["宁波市鄞州区民政局"])
    credit_code: str = Field(min_length=18, max_length=30, description="The unit's 统一社会信用代码 (validated)")
    district_code: DistrictCode
    headcount: int = Field(ge=1, le=1_000_000, description="在编在岗人数: the base of the participation rate")


class UnitOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    name: str
    credit_code: str
    district_code: str
    headcount: int


class BatchOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    unit_id: int
    batch_no: str
    row_count: int
    total_fen: int
    donation_id: int = Field(description="The batch is one donation of the unit to the campaign's project")
    content_sha256: str = Field(description="SHA-256 of the file as sent")
    rows_sha256: str | None = Field(
        description="SHA-256 of the rows (payroll number and amount in fen, sorted): "
        "the same payroll in another encoding or layout has the same"
    )
    replaces_id: int | None = Field(description="The batch this one corrected")
    uploaded_at: dt.datetime


class UnitParticipation(Schema):
    unit_id: int
    name: str
    district_code: str
    headcount: int
    participants: int = Field(description="Distinct payroll numbers with a gift")
    rate_pct: float
    met: bool
    donated_fen: int


class Participation(Schema):
    campaign_id: int
    target_pct: int
    headcount: int
    participants: int
    rate_pct: float
    met: bool
    donated_fen: int
    units: list[UnitParticipation]
