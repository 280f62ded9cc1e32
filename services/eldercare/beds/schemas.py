import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.eldercare.overrides.service import OverrideReason
from shared.addresses import AddressIn, AddressOut
from shared.areas import DistrictCode
from shared.schemas import Schema

BedType = Literal["general", "nursing", "dementia"]
Occupancy = Literal["free", "held", "occupied", "out_of_service"]


class InstitutionIn(AddressIn):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100, examples=["鄞州区社会福利中心"])
    ownership: Literal["public", "private"] = Field(description="public 公办, private 民办")
    star_rating: int | None = Field(None, ge=1, le=5, strict=True, description="星级 (1–5), if rated")
    latitude: float | None = Field(
        None, ge=-90, le=90, description="The institution's position, used only when its standard address has none"
    )
    longitude: float | None = Field(None, ge=-180, le=180)


class InstitutionOut(AddressOut):
    id: int
    name: str
    ownership: Literal["public", "private"]
    star_rating: int | None
    district_code: str
    created_at: dt.datetime


class BedIn(Schema):
    model_config = ConfigDict(extra="forbid")
    institution_id: int = Field(gt=0)
    label: str = Field(
        min_length=1, max_length=30, description="Building-room-bed, unique in the institution", examples=["3-201-1"]
    )
    bed_type: BedType = Field(description="general 普通, nursing 护理型, dementia 认知障碍照护")
    in_service: bool = True


class BedOut(Schema):
    id: int
    institution_id: int
    institution_name: str
    district_code: str
    label: str
    bed_type: BedType
    in_service: bool
    occupancy: Occupancy = Field(
        description="Now: free, held (预留), occupied (入住) or out_of_service. A hold "
        "past its deadline counts as free."
    )
    held_until: dt.datetime | None


class BedAvailabilityOut(Schema):
    """A bed that can take a person on the days asked for (see GET /bed-availability for the rule)."""

    bed_id: int
    institution_id: int
    institution_name: str
    district_code: str
    label: str
    bed_type: BedType
    available_from: dt.date = Field(
        description="First day of the range from which the bed is available through "
        "`date_to`: `date_from` itself, or the day after a live hold's deadline"
    )
    whole_range: bool = Field(description="Available on every day from `date_from` to `date_to`")
    basis: Literal["free", "if_hold_lapses"] = Field(
        description="free: nobody holds or occupies the bed; if_hold_lapses: a live hold (预留) blocks it until "
        "`held_until`, and it is available from `available_from` only if that hold is not confirmed"
    )
    held_until: dt.datetime | None = Field(description="Deadline of the live hold on the bed, if any")


class HoldIn(Schema):
    model_config = ConfigDict(extra="forbid")
    bed_id: int = Field(gt=0)
    elder_id: int = Field(gt=0)
    minutes: int | None = Field(
        None, ge=1, le=7 * 24 * 60, strict=True, description="How long the hold lasts (default 30 minutes)"
    )


class HoldOut(Schema):
    id: int
    bed_id: int
    elder_id: int
    purpose: Literal["booking", "offer"]
    status: Literal["active", "confirmed", "released", "expired"] = Field(
        description="A hold past its deadline reads `expired` even before anything has touched it"
    )
    expires_at: dt.datetime
    admission_id: int | None = None
    created_at: dt.datetime
    override_id: int | None = Field(
        None,
        description="Released by staff to admit someone else in an emergency: "
        "the override's audit record (`GET /overrides`)",
    )
    override_reason: str | None = None


class AdmissionIn(Schema):
    """A direct admission (no hold first), e.g. an emergency placement by staff."""

    model_config = ConfigDict(extra="forbid")
    bed_id: int = Field(gt=0)
    elder_id: int = Field(gt=0)


class EmergencyAdmissionIn(AdmissionIn):
    """An admission that may go past another person's live hold on the bed, with a stated reason."""

    override_reason: OverrideReason


class DischargeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=500, examples=["转院", "回家养老", "去世"])


class AdmissionOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    bed_id: int
    elder_id: int
    status: Literal["active", "discharged"]
    hold_id: int | None
    admitted_on: dt.date
    discharged_on: dt.date | None
    discharge_reason: str | None
    next_offer_id: int | None = Field(
        None, description="On discharge: the offer hold made to the first person waiting for this bed type, if any"
    )


class WaitlistIn(Schema):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    bed_type: BedType
    district_code: DistrictCode | None = Field(None, description="Only beds in this district, when given")
    assessment_level: int | None = Field(
        None,
        ge=0,
        le=4,
        strict=True,
        description="Staff only: capability level (0 能力完好 … 4 完全失能) of the person's latest "
        "assessment made elsewhere; a level recorded in this service takes precedence",
    )


class WaitlistOut(Schema):
    id: int
    elder_id: int
    bed_type: BedType
    district_code: str | None
    is_tekun: bool = Field(description="特困: first in line")
    assessment_level: int | None = Field(description="Latest capability assessment level (0–4); higher first")
    priority_basis: Literal["live", "fallback"]
    requested_at: dt.datetime
    status: Literal["waiting", "offered", "admitted", "lapsed", "declined", "withdrawn"]
    position: int | None = Field(description="1 = next to be offered a bed of this type; null when not waiting")
    offer_id: int | None
    offer_expires_at: dt.datetime | None
