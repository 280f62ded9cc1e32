import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema

LEVEL_NAMES = {0: "能力完好", 1: "轻度失能", 2: "中度失能", 3: "重度失能", 4: "完全失能"}


class AssessmentIn(Schema):
    """The item answers and the facts for the adjustments. Scores, total and level are computed by the server:
    `total` or `level` sent by a client are accepted and ignored."""

    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    assessed_on: dt.date
    reason: Literal["initial", "periodic", "change", "review"] = "periodic"
    answers: dict[str, int] = Field(
        description="Item code → score, every item of the template (see GET /assessment-template)",
        examples=[{"eating": 4, "grooming": 3}],
    )
    coma: bool = Field(False, description="处于昏迷状态")
    dementia_or_mental_disorder: bool = Field(False, description="确诊认知障碍/痴呆或精神障碍")
    care_risk_events_30d: int = Field(
        0, ge=0, le=100, strict=True, description="照护风险事件 in the last 30 days (falls, choking, wandering off…)"
    )
    assessors: list[str] = Field(min_length=2, max_length=2, description="The two assessors (评估员) by name or id")
    total: int | None = Field(None, description="Ignored: the server computes it")
    level: int | None = Field(None, description="Ignored: the server computes it")


class AssessmentOut(Schema):
    id: int
    elder_id: int
    template_version: str
    assessed_on: dt.date
    reason: str
    answers: dict[str, int]
    indicator_scores: dict[str, int] = Field(description="自理能力, 基础运动能力, 精神状态, 感知觉与社会参与")
    total: int
    raw_level: int = Field(description="The level from the total alone")
    level: int = Field(description="After the adjustments")
    level_name: str
    adjustments: list[str]
    assessors: list[str]
    next_due_on: dt.date = Field(description="Re-assessment due (every 6 months)")
    created_at: dt.datetime


class DueOut(Schema):
    elder_id: int
    last_assessment_id: int
    last_assessed_on: dt.date
    level: int
    due_on: dt.date
    overdue: bool
