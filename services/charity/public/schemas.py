import datetime as dt
from typing import Literal

from pydantic import Field

from services.charity.projects.schemas import DisclosureOut
from shared.schemas import Schema

PublicStatus = Literal["filed", "fundraising", "executing", "closed"]
HonourCategory = Literal["person", "company", "organization"]


class PublicLine(Schema):
    line_no: int
    name: str
    budget_fen: int
    spent_fen: int = Field(description="Disbursed under this line, from the ledger")


class PublicPayment(Schema):
    """A disbursement as the public sees it: beneficiaries are never named."""

    paid_on: dt.date
    budget_line_no: int
    payee: str = Field(description="The supplier's name, or 受益人 for a beneficiary")
    purpose: str
    amount_fen: int


class PublicProjectSummary(Schema):
    id: int
    title: str
    organization_id: int
    organization_name: str
    district_code: str
    status: PublicStatus
    public_fundraising: bool
    emergency: bool
    starts_on: dt.date
    ends_on: dt.date
    target_fen: int
    raised_fen: int = Field(description="Donated less refunded (ledger)")
    spent_fen: int
    balance_fen: int
    donation_count: int


class PublicProject(PublicProjectSummary):
    summary: str
    beneficiaries: str
    filed_on: dt.date | None
    filing_number: str | None = Field(description="备案编号 of the fundraising plan")
    refunded_fen: int
    budget_lines: list[PublicLine]
    payments: list[PublicPayment]
    disclosures: list[DisclosureOut]


class HonourEntry(Schema):
    rank: int
    name: str = Field(description="The donor's name as they agreed to show it; 爱心人士 when anonymous")
    category: HonourCategory | Literal["anonymous"]
    amount_fen: int = Field(description="Given in the period less anything refunded")
    donations: int


class HonourList(Schema):
    period_from: dt.date
    period_to: dt.date
    category: HonourCategory | None
    entries: list[HonourEntry]
