import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.money import MAX_ASSET_FEN, MAX_PERIOD_INCOME_FEN, fen
from shared.schemas import MONTH_PATTERN, Schema

IncomeKind = Literal["wages", "business", "property", "transfer", "pension"]
AssetKind = Literal["deposit", "securities", "vehicle", "housing"]
IncomeItem = Literal[
    "wages",
    "business",
    "rent",
    "interest",
    "dividend",
    "alimony",
    "other_transfer",
    "pension",
    "special_care_pension",
    "family_planning_reward",
    "scholarship",
    "heroism_award",
    "government_assistance",
    "residents_pension_basic",
]

# Which items belong to which kind of income (工资性收入, 经营净收入, 财产净收入, 转移净收入, 养老金).
ITEMS_BY_KIND: dict[str, frozenset[str]] = {
    "wages": frozenset({"wages"}),
    "business": frozenset({"business"}),
    "property": frozenset({"rent", "interest", "dividend"}),
    "transfer": frozenset(
        {
            "alimony",
            "other_transfer",
            "special_care_pension",
            "family_planning_reward",
            "scholarship",
            "heroism_award",
            "government_assistance",
        }
    ),
    "pension": frozenset({"pension", "residents_pension_basic"}),
}
# Not counted as income (不计入家庭收入): 优待抚恤金, 计划生育奖励与扶助金, 奖学金/助学金, 见义勇为奖励,
# 政府发放的救助金, 城乡居民基本养老保险中的基础养老金 (民发〔2021〕57号 art. 11 and 浙江省 practice).
EXEMPT_ITEMS = frozenset(
    {
        "special_care_pension",
        "family_planning_reward",
        "scholarship",
        "heroism_award",
        "government_assistance",
        "residents_pension_basic",
    }
)


class SourceIn(Schema):
    """Where a figure comes from: a department's data exchange or the applicant's declaration, and when."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["department", "applicant"]
    name: str = Field(
        min_length=1,
        max_length=100,
        description="The department (e.g. 市人力社保局) or `申请人申报`",
        examples=["市人力社保局"],
    )
    obtained_on: dt.date = Field(description="The day the figure was obtained (not in the future)")


class SourceOut(Schema):
    kind: Literal["department", "applicant"]
    name: str
    obtained_on: dt.date


class IncomeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    member_id: int = Field(description="The member whose income it is")
    kind: IncomeKind
    item: IncomeItem = Field(description="The item within the kind; exempt items are recorded but not counted")
    # Encrypted at rest, so no CHECK can see it: this bound is the only one (10 million yuan a month, for up to
    # 12 months), and it keeps the screening's sums far inside BIGINT.
    amount_fen: int = fen(
        "Total received over the period (up to 10 million yuan a month over 12 months)", maximum=MAX_PERIOD_INCOME_FEN
    )
    period_from: str = Field(
        pattern=MONTH_PATTERN, description="First month of the period (YYYY-MM)", examples=["2024-01"]
    )
    period_to: str = Field(
        pattern=MONTH_PATTERN,
        description="Last month of the period (YYYY-MM), at most 12 months after the first, not in the future",
        examples=["2024-06"],
    )
    source: SourceIn


MASKED = (
    "Masked (null) in every response: read it in the clear with `POST /households/{household_id}/incomes/"
    "{income_id}/pii-reads` (`assistance.pii:read`, a stated purpose, audited)"
)


class IncomeOut(Schema):
    id: int
    member_id: int
    kind: IncomeKind
    item: IncomeItem
    amounts_masked: bool = Field(True, description="The amounts below are masked (null); see `amount_fen`")
    amount_fen: int | None = Field(None, description=f"Total received over the period, in fen. {MASKED}")
    period_from: str
    period_to: str
    months: int
    monthly_fen: int | None = Field(
        None, description=f"The amount spread over the months (rounded down to the fen). {MASKED}"
    )
    exempt: bool = Field(description="Recorded but not counted (优待抚恤金, 奖学金, 基础养老金 …)")
    source: SourceOut
    recorded_by: str
    recorded_at: dt.datetime


class AssetIn(Schema):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = Field(None, description="The owner, or null for the household as a whole")
    kind: AssetKind = Field(description="deposit 存款, securities 有价证券, vehicle 机动车, housing 房产")
    value_fen: int = fen("The asset's value", maximum=MAX_ASSET_FEN)
    description: str = Field("", max_length=200)
    source: SourceIn


class AssetOut(Schema):
    id: int
    member_id: int | None
    kind: AssetKind
    value_fen: int
    description: str
    source: SourceOut
    recorded_by: str
    recorded_at: dt.datetime


class MedicalExpenseIn(Schema):
    """A rigid medical expense (刚性医疗支出): what the household itself paid, after medical insurance."""

    model_config = ConfigDict(extra="forbid")
    member_id: int = Field(description="The member treated")
    amount_fen: int = fen("Out of pocket over the period (个人自付)", maximum=MAX_PERIOD_INCOME_FEN)
    period_from: str = Field(
        pattern=MONTH_PATTERN, examples=["2024-03"], description="First month of the treatment period (YYYY-MM)"
    )
    period_to: str = Field(
        pattern=MONTH_PATTERN,
        examples=["2024-05"],
        description="Last month (YYYY-MM), at most 12 months after the first, not in the future",
    )
    description: str = Field("", max_length=200, examples=["住院（肾透析）"])
    source: SourceIn


class MedicalExpenseOut(Schema):
    id: int
    member_id: int
    amount_fen: int
    period_from: str
    period_to: str
    months: int
    description: str
    source: SourceOut
    recorded_by: str
    recorded_at: dt.datetime


class EconomicSummary(Schema):
    """The household's assessment today: the figures eligibility uses, before any policy deduction."""

    household_id: int
    incomes: list[IncomeOut]
    assets: list[AssetOut]
    counted_monthly_income_fen: int | None = Field(
        None,
        description="Sum of counted members' non-exempt monthly incomes, before the employment cost deduction. "
        "Masked (null), as are the incomes: read the totals in the clear with `POST .../economic-status/pii-reads` "
        "(audited); the eligibility check shows the household's counted income it decided on",
    )
    exempt_monthly_income_fen: int | None = Field(None, description="Masked (null), as above")
    incomes_masked: bool = Field(True, description="The income figures of this summary are masked (null)")
    medical_expenses: list[MedicalExpenseOut]
    medical_expense_monthly_fen: int = Field(
        description="Counted members' rigid medical expenses of the past 12 "
        "months, spread over 12 months (rounded down): the 支出型 figure"
    )
