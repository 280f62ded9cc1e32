import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.assistance.discovery.schemas import LeadOut
from services.assistance.programmes.schemas import ProgrammeCode
from shared.schemas import Schema

Outcome = Literal["applied", "not_eligible", "declined", "duplicate"]
LeadState = Literal["open", "visited", "closed"]


class LeadClosureIn(Schema):
    """How the visit ended: the household applied (name the application), was found not eligible, declined, or
    the lead repeats another one."""

    model_config = ConfigDict(extra="forbid")
    outcome: Outcome = Field(description="applied 已受理申请, not_eligible 核实不符合, declined 本人拒绝, duplicate 重复线索")
    reason: str = Field(min_length=2, max_length=1000, examples=["入户核实：子女每月赡养费 2,000 元，未申报"],
                        description="What the worker found, in words")
    application_id: int | None = Field(None, description="The application the household made (outcome `applied` "
                                       "only): of the same household, visible to you")


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
    member_id: int | None = Field(description="The person, for a programme granted to one person; null for 低保 and "
                                  "低保边缘 (the household)")
    reason: Literal["applying", "receiving"] = Field(description="applying: an application is under way (受理, 入户调查, "
                                                     "初审 or 公示); receiving: the programme is received already")
    application_id: int | None = Field(description="The application under way (reason applying)")
    application_state: Literal["accepted", "investigated", "reviewed", "publicised"] | None
    since_on: dt.date | None = Field(description="Received since (reason receiving)")


class HouseholdLeadsOut(Schema):
    household_id: int
    as_of: dt.date
    open_leads: int = Field(description="Leads of the household still open or visited (`GET /leads?household_id=`)")
    excluded: list[ExclusionOut] = Field(description="Programmes (and persons) that screenings and partner signals "
                                         "raise no lead for, and why")
