import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field

from services.charity.settings import LIMITS
from shared.idnumbers import MobilePhone
from shared.money import MAX_FUND_FEN, MAX_PAYMENT_FEN, fen
from shared.schemas import Schema

Channel = Literal["wechat", "alipay", "unionpay", "bank", "cash"]
DonorKind = Literal["person", "anonymous", "company"]
ANONYMOUS_NAME = "爱心人士"  # how an anonymous donor is shown everywhere


class DonorIn(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: DonorKind = Field(description="person (个人), company (企业), or anonymous (匿名: no name, no phone)")
    name: str | None = Field(None, min_length=1, max_length=100, description="Required unless anonymous")
    phone: MobilePhone | None = Field(None, description="A person's mobile, for the receipt; never shown unmasked")
    credit_code: str | None = Field(None, max_length=30, description="A company's 统一社会信用代码 (validated)")


class DonationIn(Schema):
    """A money donation as the payment channel reported it."""

    model_config = ConfigDict(extra="forbid")
    project_id: int
    channel: Channel
    channel_txn_id: str = Field(
        min_length=1,
        max_length=64,
        description="The channel's transaction id (交易流水号); the same one again is the same donation",
    )
    amount_fen: int = fen(
        "The amount given; the most one donation may be is a setting (CHARITY_MAX_DONATION_FEN, an assumption)",
        minimum=1,
        maximum=LIMITS.max_donation_fen,
    )
    donor: DonorIn
    honour_opt_in: bool = Field(False, description="The donor agrees to appear on the honour list (慈善榜)")
    donated_at: AwareDatetime | None = Field(None, description="When the channel took the payment; default now")


class DonationOut(Schema):
    id: int
    project_id: int
    organization_id: int
    channel: Channel
    channel_txn_id: str
    amount_fen: int
    refunded_fen: int
    refundable_fen: int = Field(description="What may still be refunded")
    donor_kind: DonorKind
    donor_name: str = Field(description=f"The donor's name, or {ANONYMOUS_NAME} when anonymous")
    donor_phone_masked: str | None
    honour_opt_in: bool
    donated_at: dt.datetime
    ledger_group_id: int
    created_at: dt.datetime


class RefundIn(Schema):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = fen("The part of the donation returned", minimum=1, maximum=MAX_PAYMENT_FEN)
    reason: str = Field(min_length=1, max_length=300)


class RefundOut(Schema):
    id: int
    donation_id: int
    amount_fen: int
    reason: str
    ledger_group_id: int
    reverses_group_id: int = Field(description="The donation's ledger group this refund reverses in part")
    created_at: dt.datetime


EvidenceKind = Literal["invoice", "receipt", "contract", "sign_off", "bank_slip", "photo", "other"]


class EvidenceIn(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: EvidenceKind = Field(
        description="invoice (发票), receipt (收据), contract (合同), sign_off (受益人签收), "
        "bank_slip (银行回单), photo, other"
    )
    reference: str = Field(min_length=1, max_length=100, description="Number or file reference of the document")
    description: str | None = Field(None, max_length=300)


class DisbursementIn(Schema):
    """Money paid from a project's fund to a beneficiary or a supplier (拨付)."""

    model_config = ConfigDict(extra="forbid")
    project_id: int
    budget_line_id: int = Field(description="The budget line the payment is spent under")
    payee_kind: Literal["beneficiary", "supplier"]
    payee_name: str = Field(min_length=1, max_length=100)
    amount_fen: int = fen("The payment", minimum=1, maximum=MAX_FUND_FEN)
    purpose: str = Field(min_length=1, max_length=300)
    paid_on: dt.date | None = Field(None, description="Default today (Asia/Shanghai)")
    evidence: list[EvidenceIn] = Field(min_length=1, max_length=20, description="At least one document")


class DisbursementOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    budget_line_id: int
    payee_kind: Literal["beneficiary", "supplier"]
    payee_name: str
    amount_fen: int
    purpose: str
    paid_on: dt.date
    evidence: list[EvidenceIn]
    ledger_group_id: int
    created_at: dt.datetime
