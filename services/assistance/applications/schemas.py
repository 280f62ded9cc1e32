import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.programmes import ProgrammeCode
from shared.schemas import Schema

State = Literal["accepted", "investigated", "reviewed", "publicised", "approved", "rejected"]
Reasons = Field(min_length=2, max_length=2000)


class ApplicationIn(Schema):
    """受理: the application is accepted for a household (and, for individual programmes, one member)."""

    model_config = ConfigDict(extra="forbid")
    household_id: int
    programme: ProgrammeCode
    member_id: int | None = Field(
        None,
        description="Required for programmes granted to one person (特困, 孤儿, "
        "困境儿童, 残疾人补贴); absent for 低保 and 低保边缘",
    )


class InvestigationIn(Schema):
    """入户调查: the home visit."""

    model_config = ConfigDict(extra="forbid")
    visited_on: dt.date
    findings: str = Reasons
    income_irregular: bool = Field(False, description="Income varies month to month (reviews every 6 months)")


class PreliminaryReviewIn(Schema):
    """初审 by the township/street."""

    model_config = ConfigDict(extra="forbid")
    passed: bool
    reasons: str = Reasons


class PublicNoticeIn(Schema):
    """公示: 7 days in the community, during which anyone may object."""

    model_config = ConfigDict(extra="forbid")
    starts_on: dt.date | None = Field(
        None, description="Default today; not in the past, nor more than 30 days ahead (an assumption: no source)"
    )


class ObjectionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    text: str = Reasons


class DecisionIn(Schema):
    """审核确认 by the district: approve or reject, always with reasons."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    reasons: str = Reasons


class EventOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    step: str
    actor: str
    actor_area: str | None
    at: dt.datetime
    detail: dict[str, Any]


class ApplicationOut(Schema):
    id: int
    household_id: int
    member_id: int | None
    area_code: str
    programme: ProgrammeCode
    state: State
    notice_starts_on: dt.date | None
    notice_ends_on: dt.date | None
    reasons: str | None
    monthly_grant_fen: int | None = Field(
        description="Set on approval: 低保 = (standard − per-capita income) × members, rounded per the parameter"
    )
    review_interval_months: int | None
    review_due_on: dt.date | None
    evaluation: dict[str, Any] | None = Field(description="The eligibility result the decision rested on")
    events: list[EventOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class ReviewDueOut(Schema):
    application_id: int
    household_id: int
    area_code: str
    programme: ProgrammeCode
    review_due_on: dt.date
    review_interval_months: int
    overdue: bool
