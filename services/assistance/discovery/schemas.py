import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.assistance.households.schemas import DisabilityKind
from services.assistance.leads.schemas import LeadOut
from shared.areas import AreaCode
from shared.money import MAX_BILL_FEN, fen
from shared.schemas import Schema


class ScreeningIn(Schema):
    model_config = ConfigDict(extra="forbid")
    area_code: AreaCode | None = Field(None, description="Screen this area (default: your whole area)")
    as_of: dt.date | None = Field(
        None, description="Rules and figures as of this day (default today; not a day to come)"
    )


class ScreeningOut(Schema):
    id: int
    state: Literal["queued", "running", "done", "failed"]
    as_of: dt.date
    area_code: str
    total_households: int
    processed_households: int
    progress_percent: float
    leads_count: int
    attempts: int = Field(description="Times a process took the job (more than 1 after a restart)")
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    job_id: int | None = Field(description="The worker job that runs it: follow or cancel it at `/jobs/{job_id}`")


SignalKind = Literal["medical_bill", "job_loss", "disability_record", "disaster", "housing_change"]


class SignalIn(Schema):
    """A partner department's signal about a person (医保 large bill, 人社 job loss, 残联 disability record,
    应急管理 disaster, 住建 housing change)."""

    model_config = ConfigDict(extra="forbid")
    signal_id: str = Field(
        min_length=1, max_length=100, description="The partner's own id: a resend is not processed twice"
    )
    kind: SignalKind
    id_number: str = Field(min_length=15, max_length=20)
    occurred_on: dt.date
    amount_fen: int | None = fen(
        "medical_bill: the out-of-pocket bill, counted as a rigid medical expense of the "
        "month it occurred (支出型); job_loss: the monthly unemployment benefit (失业保险金) "
        "now paid, if any. Other kinds: kept, not used (a disaster's loss is assessed on the "
        "visit)",
        maximum=MAX_BILL_FEN,
        default=None,
    )
    disability_grade: int | None = Field(
        None, ge=1, le=4, description="disability_record only, required there: 残疾等级 1 (most severe) to 4"
    )
    disability_kind: DisabilityKind | None = Field(None, description="disability_record only, required there: 残疾类别")
    detail: str = Field("", max_length=1000)


class SignalOut(Schema):
    id: int
    signal_id: str
    kind: SignalKind
    id_number_masked: str
    occurred_on: dt.date
    household_found: bool = Field(description="Whether the person is in a recorded household (re-evaluated)")
    leads: list[LeadOut]
    received_at: dt.datetime
