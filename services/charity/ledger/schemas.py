import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema

AccountKind = Literal["clearing", "project", "disbursement"]


class AccountOut(Schema):
    id: int
    key: str
    kind: AccountKind
    organization_id: int
    project_id: int | None
    name: str
    debits_fen: int = Field(description="Money moved into the account")
    credits_fen: int = Field(description="Money moved out of the account")
    balance_fen: int = Field(description="debits − credits; a clearing account's is minus what donors gave")


class EntryOut(Schema):
    id: int
    group_id: int
    group_kind: Literal["donation", "refund", "disbursement"]
    reverses_group_id: int | None
    account_id: int
    account_kind: AccountKind
    project_id: int
    side: Literal["debit", "credit"]
    amount_fen: int = Field(description="Always positive; `side` says the direction")
    memo: str
    created_at: dt.datetime


class Difference(Schema):
    kind: str = Field(
        description="unbalanced_group, donation_mismatch, refund_mismatch, disbursement_mismatch, "
        "over_refunded, negative_balance, project_totals"
    )
    model_config = ConfigDict(extra="allow")


class ReconciliationOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    balanced: bool = Field(description="True when no difference was found")
    area_code: str
    groups_checked: int
    entries_checked: int
    projects_checked: int
    differences: list[Difference]
    started_at: dt.datetime
    finished_at: dt.datetime
