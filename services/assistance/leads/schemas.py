import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.assistance.discovery.schemas import LeadOut
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
