import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field

from services.eldercare.overrides.service import OverrideReason
from shared.addresses import AddressIn, AddressOut
from shared.idnumbers import MobilePhone
from shared.money import MAX_PRICE_FEN, fen
from shared.schemas import Schema

CertificateLevel = Literal["junior", "intermediate", "senior", "technician", "senior_technician"]
VisitStatus = Literal[
    "requested", "scheduled", "checked_in", "checked_out", "verified", "flagged", "missed", "cancelled"
]


class HomeServiceIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", examples=["bathing"])
    name: str = Field(min_length=2, max_length=100, examples=["助浴"])
    category: str = Field(min_length=2, max_length=40, examples=["personal_care"])
    price_fen: int = fen("Price of one visit of the service", maximum=MAX_PRICE_FEN)
    duration_minutes: int = Field(ge=10, le=720, strict=True)


class HomeServiceOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    category: str
    price_fen: int
    duration_minutes: int
    is_active: bool


class ProviderIn(AddressIn):
    """A provider and its base (where its caregivers set out from): a standard address or free text."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100)
    credit_code: str = Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$", description="统一社会信用代码 (18 characters)")
    phone: MobilePhone | None = None


class ProviderOut(AddressOut):
    id: int
    name: str
    credit_code: str
    phone_masked: str | None = Field(
        description="The contact mobile, masked (138****1234): a person's number, personal data",
        examples=["138****1234"],
    )
    created_at: dt.datetime


class CaregiverIn(Schema):
    model_config = ConfigDict(extra="forbid")
    provider_id: int = Field(gt=0)
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=18, max_length=18, description="Resident ID number (GB 11643); masked in answers")
    phone: MobilePhone | None = None
    certificate_no: str = Field(min_length=4, max_length=50, description="养老护理员职业技能等级证书编号")
    certificate_level: CertificateLevel
    certificate_expires_on: dt.date


class CaregiverOut(Schema):
    id: int
    provider_id: int
    name: str
    id_number_masked: str
    phone_masked: str | None
    certificate_no: str
    certificate_level: CertificateLevel
    certificate_expires_on: dt.date
    certificate_valid: bool = Field(description="The certificate has not expired today")
    is_active: bool
    app_paired: bool = Field(
        False, description="An app account is paired to this caregiver (see `POST /caregivers/{id}/app-pairings`)"
    )


class VisitIn(Schema):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    service_id: int = Field(gt=0)
    starts_at: AwareDatetime = Field(description="With a time zone, e.g. 2026-12-01T09:00:00+08:00")
    ends_at: AwareDatetime | None = Field(None, description="Default: the start plus the service's duration")
    caregiver_id: int | None = Field(None, gt=0, description="Schedule at once to this caregiver")
    override_reason: OverrideReason | None = Field(
        None,
        description="Staff holding `eldercare.overrides:write`: book a caregiver whose provider works outside "
        "the person's area anyway, for this reason (audited, `GET /overrides`)",
    )


class ScheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")
    caregiver_id: int = Field(gt=0)
    override_reason: OverrideReason | None = Field(
        None,
        description="Staff holding `eldercare.overrides:write`: book a caregiver whose provider works outside "
        "the person's area anyway, for this reason (audited, `GET /overrides`)",
    )


class Position(Schema):
    """Where and when the caregiver's phone says they are."""

    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=5000, description="GPS accuracy radius in metres")


class RatingIn(Schema):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5, strict=True)
    comment: str | None = Field(None, max_length=500)


class CorrectionIn(Schema):
    """Fields to change and why. Every correction is kept with the values before and after."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=4, max_length=1000)
    status: Literal["verified", "flagged"] | None = None
    check_in_at: AwareDatetime | None = None
    check_out_at: AwareDatetime | None = None


class CorrectionOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    visit_id: int
    reason: str
    before: dict
    after: dict
    corrected_by: str
    corrected_at: dt.datetime


class VisitOut(Schema):
    id: int
    elder_id: int
    service_id: int
    caregiver_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    price_fen: int
    status: VisitStatus
    check_in_at: dt.datetime | None
    check_in_distance_m: float | None = Field(description="From the person's home, in metres")
    check_out_at: dt.datetime | None
    check_out_distance_m: float | None
    flags: list[str] = Field(
        description="Why the visit was flagged for review: check_in_far_from_home, "
        "check_out_far_from_home, check_in_early, check_in_late, too_short, "
        "check_in_home_unknown, check_out_home_unknown"
    )
    rating: int | None
    locked: bool = Field(
        description="30 days after check-out (or, never checked out, after the scheduled end) the "
        "record changes only by an audited correction"
    )
    subsidy_fen: int = Field(0, description="Drawn from the person's home-care subsidy (居家养老服务补助)")
    self_paid_fen: int = Field(0, description="The rest of the price, paid by the person")


class MissedReport(Schema):
    marked_missed: list[int] = Field(description="Visits this run marked missed (none twice)")


class PairingCodeOut(Schema):
    """A one-time code for the caregiver to enter in the app; it is shown once and kept only as a keyed hash."""

    caregiver_id: int
    code: str = Field(
        description="8 characters without look-alikes (no 0/O, 1/I/L); case and spaces ignored", examples=["K7WQ-M3PA"]
    )
    expires_at: dt.datetime


class PairingIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(
        min_length=8, max_length=16, description="The code given by the provider's staff", examples=["K7WQ-M3PA"]
    )


class PairedCaregiverOut(Schema):
    """The caregiver the caller's account is paired to."""

    caregiver_id: int
    provider_id: int
    name: str
    certificate_expires_on: dt.date
    certificate_valid: bool = Field(description="The certificate has not expired today")
    paired_at: dt.datetime


class MyVisitOut(VisitOut):
    """A visit as its caregiver sees it in the app: where to go and for whom, only while it is to be done."""

    service_name: str
    elder_name: str | None = Field(description="While the visit is scheduled or under way; otherwise null")
    address: str | None = Field(description="The person's home, while the visit is scheduled or under way")
    home_latitude: float | None = Field(description="While the visit is scheduled or under way")
    home_longitude: float | None = Field(description="While the visit is scheduled or under way")
