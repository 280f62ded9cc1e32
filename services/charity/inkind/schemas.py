import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.charity.donations.schemas import DonorIn
from shared.money import MAX_COUNT, MAX_FUND_FEN, count, fen
from shared.schemas import Schema

Kind = Literal["goods", "intellectual_property", "technology", "equity", "securities"]
Basis = Literal["invoice", "market_price", "appraisal", "agreement"]
Action = Literal["distributed", "used", "sold", "transferred", "scrapped"]


class InKindIn(Schema):
    model_config = ConfigDict(extra="forbid")
    organization_id: int
    project_id: int | None = Field(None, description="The project the gift is for, if any")
    kind: Kind = Field(
        description="goods (物资), intellectual_property (知识产权), technology (技术), equity (股权), "
        "securities (有价证券)"
    )
    description: str = Field(min_length=1, max_length=2000, examples=["儿童羽绒服"])
    quantity: int = count("Units given", minimum=1, maximum=MAX_COUNT)
    unit: str = Field(min_length=1, max_length=10, examples=["件"])
    valuation_fen: int = fen(
        "The stated value (评估价值); equity and securities may be large", minimum=1, maximum=MAX_FUND_FEN
    )
    valuation_basis: Basis = Field(
        description="invoice (发票), market_price (市场价格), appraisal (评估报告), agreement (协议约定)"
    )
    basis_note: str = Field(min_length=1, max_length=300, description="The document behind the value")
    donor: DonorIn
    honour_opt_in: bool = False
    received_on: dt.date


class DispositionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    action: Action = Field(
        description="distributed (发放), used (使用), sold (变卖), transferred (转让), scrapped (报废)"
    )
    quantity: int = count("Units disposed of", minimum=1, maximum=MAX_COUNT)
    proceeds_fen: int | None = fen("For sold or transferred: the price received", maximum=MAX_FUND_FEN, default=None)
    occurred_on: dt.date
    note: str = Field(min_length=1, max_length=300)


class DispositionOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    gift_id: int
    action: Action
    quantity: int
    proceeds_fen: int | None
    occurred_on: dt.date
    note: str
    created_at: dt.datetime


class InKindOut(Schema):
    id: int
    organization_id: int
    project_id: int | None
    kind: Kind
    description: str
    quantity: int
    unit: str
    remaining_quantity: int = Field(description="Quantity not yet used or disposed of")
    valuation_fen: int
    valuation_basis: Basis
    basis_note: str
    donor_kind: str
    donor_name: str
    honour_opt_in: bool
    received_on: dt.date
    receipt_id: int | None
    dispositions: list[DispositionOut]
    created_at: dt.datetime


class InKindReceiptIn(Schema):
    model_config = ConfigDict(extra="forbid")
    handler: str = Field(min_length=1, max_length=50)
