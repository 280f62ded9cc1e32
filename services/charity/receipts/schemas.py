import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema


class ReceiptIn(Schema):
    """A receipt for one money donation."""

    model_config = ConfigDict(extra="forbid")
    donation_id: int
    handler: str = Field(min_length=1, max_length=50, description="经手人: who issues it for the organisation")


class MergedReceiptIn(Schema):
    """One receipt for a day's small or anonymous gifts to an organisation, under 爱心人士."""

    model_config = ConfigDict(extra="forbid")
    organization_id: int
    day: dt.date = Field(description="The day (Asia/Shanghai) whose gifts are merged")
    handler: str = Field(min_length=1, max_length=50)


class DeclineIn(Schema):
    model_config = ConfigDict(extra="forbid")
    donation_id: int
    note: str | None = Field(None, max_length=300, description="How the donor declined (phone, in person…)")


ReceiptStatus = Literal["issued", "voided"]


class VoidIn(Schema):
    """Staff void a receipt (作废), e.g. one printed with a mistake."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300, description="Why it is voided (作废原因)")


class ReceiptOut(Schema):
    id: int
    organization_id: int
    receipt_no: str = Field(
        description="<year>-<number>, numbered per organisation and year without gaps", examples=["2026-000017"]
    )
    year: int
    number: int
    kind: Literal["individual", "merged"]
    gift_kind: Literal["money", "in_kind"]
    donor_name: str
    donor_kind: str
    amount_fen: int | None
    quantity: str | None
    handler: str
    issued_on: dt.date
    donation_ids: list[int]
    created_at: dt.datetime
    status: ReceiptStatus = Field(
        description="issued (已开具), or voided (作废): by a refund of a donation it covers, or by staff. A voided "
        "receipt keeps its number, which is never issued again; its donations may be receipted anew"
    )
    voided_at: dt.datetime | None = Field(description="When it was voided (作废时间)")
    void_reason: str | None = Field(description="Why it was voided (作废原因)")
    void_refund_id: int | None = Field(description="The refund (退款) that voided it, if one did")


class DeclineOut(Schema):
    donation_id: int
    declined_at: dt.datetime
    note: str | None
