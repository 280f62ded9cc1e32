import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.addresses import AddressIn, AddressOut
from shared.money import MAX_FUND_FEN, count, fen
from shared.schemas import Schema

Status = Literal["draft", "filed", "fundraising", "executing", "closed"]
DisclosureKind = Literal["plan", "progress", "final", "correction"]


class BudgetLineIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["助学金发放"])
    amount_fen: int = fen("The line's amount", minimum=1, maximum=MAX_FUND_FEN)


class ProjectIn(Schema):
    """A project plan (慈善项目方案) as an organisation submits it; it starts as a draft."""

    model_config = ConfigDict(extra="forbid")
    organization_id: int
    title: str = Field(min_length=2, max_length=200, examples=["山区儿童助学计划"])
    summary: str = Field(min_length=1, max_length=5000)
    beneficiaries: str = Field(
        min_length=1, max_length=2000, description="Who benefits (受益人) and how they are chosen"
    )
    beneficiary_count: int | None = count(
        "People the project means to reach, when stated", minimum=1, maximum=100_000_000, default=None
    )
    public_fundraising: bool = Field(
        description="公开募捐: only for organisations holding the qualification; "
        "false for a directed fundraising (定向募捐) among known donors"
    )
    emergency: bool = Field(
        False,
        description="An emergency public fundraising (重大突发事件): its plan may be filed "
        "within 10 days after it starts instead of 10 days before",
    )
    target_fen: int = fen("The fundraising target (募捐目标)", minimum=1, maximum=MAX_FUND_FEN)
    starts_on: dt.date
    ends_on: dt.date
    budget_lines: list[BudgetLineIn] = Field(
        min_length=1, max_length=50, description="The budget; its lines add up to the target"
    )


class FilingIn(Schema):
    """The record of the fundraising plan's filing with the civil-affairs department (募捐方案备案)."""

    model_config = ConfigDict(extra="forbid")
    filed_on: dt.date | None = Field(None, description="Date the plan was filed; default today (Asia/Shanghai)")
    filing_number: str | None = Field(
        None,
        min_length=1,
        max_length=60,
        description="备案编号 on the national charity platform (慈善中国), when given",
    )


class BudgetLineOut(Schema):
    id: int
    line_no: int
    name: str
    amount_fen: int
    spent_fen: int = Field(description="Disbursed against this line, from the ledger")


class ProjectOut(Schema):
    id: int
    organization_id: int
    district_code: str
    title: str
    summary: str
    beneficiaries: str
    beneficiary_count: int | None
    public_fundraising: bool
    emergency: bool
    status: Status
    target_fen: int
    starts_on: dt.date
    ends_on: dt.date
    filed_on: dt.date | None
    filing_number: str | None
    raised_fen: int = Field(description="Donated less refunded, summed from the ledger")
    refunded_fen: int
    spent_fen: int
    balance_fen: int
    budget_lines: list[BudgetLineOut]
    created_at: dt.datetime
    status_changed_at: dt.datetime


class DisclosureIn(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: DisclosureKind = Field(
        description="plan (方案), progress (进展, at least every 3 months for projects "
        "longer than 6 months), final (结项, within 3 months after the end), or correction "
        "(更正 of an earlier disclosure, named in `corrects_id`)"
    )
    title: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=20000)
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    corrects_id: int | None = Field(None, description="For a correction: the disclosure it corrects")


class DisclosureOut(Schema):
    id: int
    project_id: int
    kind: DisclosureKind
    title: str
    content: str
    period_from: dt.date | None
    period_to: dt.date | None
    corrects_id: int | None
    corrected_by: list[int] = Field(description="Later corrections of this disclosure")
    published_on: dt.date
    created_at: dt.datetime


class OverdueDisclosure(Schema):
    project_id: int
    organization_id: int
    district_code: str
    title: str
    status: Status
    due: Literal["progress", "final"] = Field(
        description="progress: the 3-monthly disclosure of a project "
        "longer than 6 months; final: the disclosure due within 3 months "
        "after the end"
    )
    due_on: dt.date
    days_overdue: int
    last_published_on: dt.date | None


class SiteIn(AddressIn):
    """A place where the project is carried out (项目实施地点): a standard address (`address_code`) or free text
    standardised through placenames (`address`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=2,
        max_length=100,
        description="The site's name, unique within the project",
        examples=["百丈街道社区活动中心"],
    )


class SiteOut(AddressOut):
    id: int
    project_id: int
    name: str
    created_at: dt.datetime
