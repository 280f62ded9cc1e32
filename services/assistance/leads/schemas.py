import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.programmes import ProgrammeCode
from shared.schemas import Schema

Outcome = Literal["applied", "not_eligible", "declined", "duplicate"]
LeadState = Literal["open", "visited", "closed"]


class LeadOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    screening_id: int | None
    signal_id: int | None
    household_id: int
    member_id: int | None
    area_code: str
    programme: ProgrammeCode
    state: LeadState
    reasons: dict[str, Any] = Field(
        description=(
            "Why the household looks eligible: the rule and the day (`rule`, `as_of`); for 低保 and 低保边缘 leads of a "
            "screening the counted members (`counted_members`), the 低保 standard (`standard_fen`) and `facts_digest`, a "
            "keyed digest of the counted members, counted income and standard that tells whether a closed lead's facts "
            "have changed; for a signal's leads the signal kind (`signal`) and the criteria passed, and when the signal's "
            "content fed the re-evaluation `signal_fact`: what was applied (`medical_expense`: the bill counted as a "
            "rigid medical expense; `wages_stopped`: a job loss; `disability`: a disability record; `shock`: a "
            "disaster), about which member, its source (the department) and the partner's `partner_signal_id`. "
            "`expenditure_type: true` marks a 低保 lead that is 支出型 (the criteria are then the 支出型 ones); `review` "
            "a 低保 lead raised by a disaster for staff to assess the loss, which has no figure. A lead never shows an "
            "income or an amount: "
            "staff who work it get the household's counted income from an eligibility check of the household "
            "(`POST /eligibility-checks` with its `household_id`, scope `assistance.eligibility:check`), which explains the decision with "
            "every figure used."
        ),
        examples=[
            {
                "rule": "eligibility.rules.evaluate",
                "as_of": "2026-11-01",
                "counted_members": 2,
                "standard_fen": 118_500,
                "facts_digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            }
        ],
    )
    created_at: dt.datetime


class LeadClosureIn(Schema):
    """How the visit ended: the household applied (name the application), was found not eligible, declined, or
    the lead repeats another one."""

    model_config = ConfigDict(extra="forbid")
    outcome: Outcome = Field(
        description="applied 已受理申请, not_eligible 核实不符合, declined 本人拒绝, duplicate 重复线索"
    )
    reason: str = Field(
        min_length=2,
        max_length=1000,
        examples=["入户核实：子女每月赡养费 2,000 元，未申报"],
        description="What the worker found, in words",
    )
    application_id: int | None = Field(
        None,
        description="The application the household made (outcome `applied` "
        "only): of the same household, visible to you",
    )


class LeadClosureOut(Schema):
    outcome: Outcome
    reason: str
    application_id: int | None
    closed_by: str
    closed_at: dt.datetime


class LeadDetailOut(LeadOut):
    closure: LeadClosureOut | None = Field(description="How the lead was closed; null while it is open")


class ExclusionOut(Schema):
    programme: ProgrammeCode
    member_id: int | None = Field(
        description="The person, for a programme granted to one person; null for 低保 and 低保边缘 (the household)"
    )
    reason: Literal["applying", "receiving"] = Field(
        description="applying: an application is under way (受理, 入户调查, "
        "初审 or 公示); receiving: the programme is received already"
    )
    application_id: int | None = Field(description="The application under way (reason applying)")
    application_state: Literal["accepted", "investigated", "reviewed", "publicised"] | None
    since_on: dt.date | None = Field(description="Received since (reason receiving)")


class HouseholdLeadsOut(Schema):
    household_id: int
    as_of: dt.date
    open_leads: int = Field(description="Leads of the household still open or visited (`GET /leads?household_id=`)")
    excluded: list[ExclusionOut] = Field(
        description="Programmes (and persons) that screenings and partner signals raise no lead for, and why"
    )
