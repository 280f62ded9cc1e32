import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field

from shared.schemas import Schema

CallKind = Literal["fall", "medical", "fire", "lost", "loneliness", "other"]
Outcome = Literal["resolved_on_site", "hospital", "false_alarm", "referred", "died"]


class CallIn(Schema):
    model_config = ConfigDict(extra="forbid")
    elder_id: int = Field(gt=0)
    kind: CallKind = Field(description="fall 跌倒, medical 急病, fire 火情, lost 走失, loneliness 孤独求助, other")
    called_at: AwareDatetime | None = Field(None, description="Default: now")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    note: str | None = Field(None, max_length=500)


class ActionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=2, max_length=500, examples=["电话联系家属，社区网格员上门"])


class CloseIn(Schema):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome
    note: str | None = Field(None, max_length=1000)


class ActionOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    handler: str
    action: str
    acted_at: dt.datetime


class CallOut(Schema):
    id: int
    elder_id: int
    area_code: str
    kind: CallKind
    called_at: dt.datetime
    latitude: float | None
    longitude: float | None
    note: str | None
    status: Literal["open", "handling", "closed"]
    outcome: Outcome | None
    outcome_note: str | None
    closed_at: dt.datetime | None
    actions: list[ActionOut]
