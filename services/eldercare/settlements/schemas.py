import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.eldercare.meals.models import MAX_MEAL_PRICE_FEN, MAX_ORDER_PORTIONS
from services.eldercare.meals.schemas import SubsidyTier
from services.eldercare.settlements.models import MAX_MONTH_FEN
from shared.money import fen
from shared.schemas import Month, Schema

Section = Literal["placed", "cancelled", "refund", "adjustment"]


class StatementIn(Schema):
    """Which month's statement to produce for the canteen."""

    model_config = ConfigDict(extra="forbid")
    month: Month = Field(description="The month (YYYY-MM, Asia/Shanghai): this one or an earlier one")


class ApprovalIn(Schema):
    """The revision the approver reviewed: approving another one is refused, so nobody signs what they did not see."""

    model_config = ConfigDict(extra="forbid")
    revision: int = Field(ge=1, le=1_000_000, strict=True, description="The statement's `revision` as reviewed")


class RefundIn(Schema):
    """Why a served meal's subsidy and payment are given back."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=2,
        max_length=200,
        examples=["送餐未送达 (delivery never arrived)"],
        description="Why, for the canteen",
    )


class RefundOut(Schema):
    """A refund and the statement month it is settled in."""

    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="The refund's id")
    order_id: int = Field(description="The meal order refunded")
    canteen_id: int = Field(description="The canteen whose statement settles it")
    order_month: str = Field(description="The month the order's meal was served in")
    month: str = Field(
        description="The month whose statement settles the refund: the order's own month while its statement is "
        "not approved, else the month the refund was made (an adjustment)"
    )
    is_adjustment: bool = Field(description="Settled in a later month than its order's (that month was locked)")
    subsidy_fen: int = fen("The subsidy withdrawn from the canteen", maximum=MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN)
    payable_fen: int = fen("What the person paid, given back", maximum=MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN)
    reason: str = Field(description="Why the meal was refunded")
    refunded_by: str = Field(description="Who recorded the refund")
    created_at: dt.datetime = Field(description="When")


class StatementLineOut(Schema):
    """One section of the statement for one subsidy tier."""

    model_config = ConfigDict(from_attributes=True)
    section: Section = Field(
        description="placed: the month's orders not cancelled; cancelled: cancelled before the cut-off (their "
        "subsidy was never drawn); refund: refunds of this month's orders; adjustment: refunds of orders of an "
        "earlier month whose statement was already approved"
    )
    tier: SubsidyTier | Literal["none"] = Field(description="The subsidy tier that priced the orders; none: no tier")
    orders: int = Field(description="Orders in the line")
    portions: int = Field(description="Portions of those orders")
    gross_fen: int = fen("Menu price × portions", maximum=MAX_MONTH_FEN)
    subsidy_fen: int = fen("Subsidy", maximum=MAX_MONTH_FEN)
    payable_fen: int = fen("What the people paid", maximum=MAX_MONTH_FEN)


class StatementOut(Schema):
    """A canteen's settlement statement (结算单) for a month, with its lines by section and tier."""

    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="The statement's id")
    canteen_id: int = Field(description="The canteen settled")
    canteen_name: str = Field(description="Its name")
    area_code: str = Field(description="The canteen's division code")
    month: str = Field(description="The month settled, YYYY-MM (Asia/Shanghai)")
    status: Literal["draft", "approved"] = Field(description="approved statements are locked for good")
    revision: int = Field(description="Bumped each time producing the statement again changed what it says")
    orders: int = Field(description="Orders served in the month (not cancelled), refunded ones included")
    portions: int = Field(description="Portions of those orders")
    gross_fen: int = fen("Menu price × portions of those orders", maximum=MAX_MONTH_FEN)
    subsidy_fen: int = fen("Subsidy on those orders", maximum=MAX_MONTH_FEN)
    payable_fen: int = fen("What the people paid for them", maximum=MAX_MONTH_FEN)
    cancelled_orders: int = Field(description="Orders cancelled before the cut-off (no subsidy drawn)")
    refunds: int = Field(description="Refunds of this month's orders settled here")
    refunded_subsidy_fen: int = fen("Subsidy of this month's orders refunded", maximum=MAX_MONTH_FEN)
    refunded_payable_fen: int = fen("Payments of this month's orders given back", maximum=MAX_MONTH_FEN)
    adjustments: int = Field(description="Refunds of earlier, already approved months' orders settled here")
    adjustment_subsidy_fen: int = fen("Subsidy of earlier months' orders refunded this month", maximum=MAX_MONTH_FEN)
    adjustment_payable_fen: int = fen("Payments of earlier months' orders given back", maximum=MAX_MONTH_FEN)
    net_subsidy_fen: int = fen(
        "What the canteen is paid: subsidy − refunded − adjustments (negative: the canteen owes it back)",
        maximum=MAX_MONTH_FEN,
        minimum=-MAX_MONTH_FEN,
    )
    lines: list[StatementLineOut] = Field(description="By section and subsidy tier")
    generated_by: str = Field(description="Who produced this revision (`system:eldercare-worker` for the job)")
    generated_at: dt.datetime = Field(description="When this revision was produced")
    approved_by: str | None = Field(description="The district staff member who approved it")
    approved_at: dt.datetime | None = Field(description="When it was approved, and so locked")
