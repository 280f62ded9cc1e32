import datetime as dt

from pydantic import ConfigDict, Field

from services.assistance.assessment.schemas import (
    AssetKind,
    IncomeItem,
    IncomeKind,
    SourceIn,
)
from services.assistance.households.schemas import MemberIn
from shared.areas import AreaCode
from shared.money import MAX_ASSET_FEN, MAX_MONTHLY_INCOME_FEN, fen
from shared.programmes import ProgrammeCode
from shared.schemas import Schema


class InlineIncome(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: IncomeKind
    item: IncomeItem
    monthly_fen: int = fen("The income per month", maximum=MAX_MONTHLY_INCOME_FEN)
    source: SourceIn | None = None


class InlineMember(MemberIn):
    incomes: list[InlineIncome] = Field(default_factory=list, max_length=20)


class InlineAsset(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: AssetKind
    value_fen: int = fen("The asset's value", maximum=MAX_ASSET_FEN)
    source: SourceIn | None = None


class InlineMedicalExpense(Schema):
    model_config = ConfigDict(extra="forbid")
    monthly_fen: int = fen(
        "Rigid medical expenses out of pocket, per month (the past 12 months' total / 12)",
        maximum=MAX_MONTHLY_INCOME_FEN,
    )
    source: SourceIn | None = None


class InlineHousehold(Schema):
    """A household that is not (yet) recorded: for a consultation or a what-if."""

    model_config = ConfigDict(extra="forbid")
    area_code: AreaCode
    members: list[InlineMember] = Field(min_length=1, max_length=30)
    assets: list[InlineAsset] = Field(default_factory=list, max_length=50)
    medical_expenses: list[InlineMedicalExpense] = Field(
        default_factory=list, max_length=50, description="Of counted members, for the 支出型 assessment"
    )


class EligibilityCheckIn(Schema):
    model_config = ConfigDict(extra="forbid")
    household_id: int | None = Field(None, description="A recorded household in your area")
    household: InlineHousehold | None = Field(None, description="Or a household given inline")
    as_of: dt.date | None = Field(
        None,
        description="The day the decision is about (default today); an earlier day "
        "uses the rules in force then (appeals). A day no version of a rule covers (the "
        "plan gives its standards from 2022, the 1.5× 低保边缘 rule for 2021) is a 422 on "
        "`as_of` naming each missing parameter and its first version on record",
    )
    programmes: list[ProgrammeCode] | None = Field(None, description="Only these programmes (default all)")


class ParameterUsed(Schema):
    model_config = ConfigDict(from_attributes=True)
    code: str
    version_id: int = Field(description="The policy version (GET /policies/{code}/versions)")
    value: int
    unit: str
    citation: str
    is_assumption: bool


class CriterionOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    code: str
    passed: bool
    value: int | None = Field(description="The value used (fen, persons, years, grade as the unit says)")
    threshold: int | None
    unit: str
    parameters: list[ParameterUsed]
    sources: list[str] = Field(description="Where the inputs came from (department or applicant, and when)")
    note: str


class PersonResultOut(Schema):
    member: str = Field(description="Member id (recorded household) or position in the inline list")
    id_number_masked: str
    eligible: bool
    criteria: list[CriterionOut]


class ProgrammeResultOut(Schema):
    code: ProgrammeCode
    eligible: bool
    receiving: bool = Field(description="Someone in the household already receives it today")
    criteria: list[CriterionOut]
    persons: list[PersonResultOut] | None
    amount_fen: int | None = Field(
        description="低保: the household's monthly grant (rounded per the rounding "
        "parameter); other programmes: the standard per person"
    )
    amount_unit: str | None
    amount_parameters: list[ParameterUsed]


class ExpenditureTypeOut(Schema):
    """支出型 (expenditure-type) hardship: the income is above the line, but not once rigid medical expenses are paid.
    Not a programme of its own here: it explains whether the household would qualify on that ground."""

    eligible: bool
    income_type: bool = Field(description="Already below the 低保 standard on income alone (收入型)")
    medical_expense_monthly_fen: int
    household_income_after_medical_fen: int
    per_capita_income_after_medical_fen: int | None
    criteria: list[CriterionOut]


class EligibilityOut(Schema):
    as_of: dt.date
    district_code: str
    household_id: int | None
    counted_members: int
    household_monthly_income_fen: int = Field(
        description="Counted members' non-exempt income after the employment cost deduction"
    )
    per_capita_monthly_income_fen: int | None
    programmes: list[ProgrammeResultOut]
    expenditure_type: ExpenditureTypeOut | None = Field(
        None, description="支出型 (rigid medical expenses): null on a day its parameters were not in force"
    )
