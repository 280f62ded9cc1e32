import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shared.areas import CITY_CODE, DISTRICT_OR_CITY_PATTERN
from shared.money import MAX_ASSET_FEN
from shared.schemas import Schema

Unit = Literal["fen", "fen_per_month", "fen_per_year", "permille", "months"]
PolicyCode = Literal[
    "dibao_standard",
    "dibao_standard_annual_target",
    "dibao_marginal_multiplier",
    "tekun_support_standard",
    "orphan_institution_standard",
    "orphan_scattered_standard",
    "children_in_difficulty_standard",
    "disability_living_subsidy",
    "disability_care_subsidy",
    "dibao_financial_assets_limit",
    "dibao_vehicle_value_limit",
    "employment_cost_deduction",
    "dibao_grant_rounding",
    "expenditure_medical_share",
    "expenditure_income_multiplier",
    "income_assessment_months",
]
DistrictCode = Annotated[
    str,
    Field(
        pattern=DISTRICT_OR_CITY_PATTERN,
        examples=[CITY_CODE],
        description="330200 (city-wide) or a district of Ningbo, e.g. 330212 鄞州区",
    ),
]


class ParameterKind(Schema):
    code: PolicyCode
    label: str
    unit: Unit


# The parameters the bureau keeps, their Chinese names, and the unit each is always given in.
CATALOGUE: dict[str, ParameterKind] = {
    k.code: k
    for k in (
        ParameterKind(code="dibao_standard", label="最低生活保障标准（低保标准）", unit="fen_per_month"),
        ParameterKind(code="dibao_standard_annual_target", label="低保标准年度目标", unit="fen_per_year"),
        ParameterKind(
            code="dibao_marginal_multiplier", label="低保边缘家庭收入认定倍数（相对低保标准）", unit="permille"
        ),
        ParameterKind(code="tekun_support_standard", label="特困人员基本生活供养标准", unit="fen_per_month"),
        ParameterKind(code="orphan_institution_standard", label="集中供养孤儿养育标准", unit="fen_per_year"),
        ParameterKind(code="orphan_scattered_standard", label="散居孤儿保障标准", unit="fen_per_year"),
        ParameterKind(code="children_in_difficulty_standard", label="困境儿童保障标准", unit="fen_per_year"),
        ParameterKind(code="disability_living_subsidy", label="困难残疾人生活补贴", unit="fen_per_month"),
        ParameterKind(code="disability_care_subsidy", label="重度残疾人护理补贴", unit="fen_per_month"),
        ParameterKind(code="dibao_financial_assets_limit", label="低保家庭人均金融资产上限", unit="fen"),
        ParameterKind(code="dibao_vehicle_value_limit", label="低保家庭机动车价值上限", unit="fen"),
        ParameterKind(code="employment_cost_deduction", label="就业成本扣减（每名就业成员每月）", unit="fen_per_month"),
        ParameterKind(code="dibao_grant_rounding", label="低保金取整单位（向上取整）", unit="fen"),
        ParameterKind(
            code="expenditure_medical_share", label="支出型困难：刚性医疗支出占家庭收入比例下限", unit="permille"
        ),
        ParameterKind(
            code="expenditure_income_multiplier",
            label="支出型困难：扣除医疗支出后人均收入认定倍数（相对低保标准）",
            unit="permille",
        ),
        ParameterKind(code="income_assessment_months", label="家庭收入计算期（月数，截至认定日所在月）", unit="months"),
    )
}
# A number of months (`income_assessment_months`): the periods incomes are recorded over are 1 to 12 months.
MIN_MONTHS, MAX_MONTHS = 1, 12


class PolicyVersionIn(Schema):
    """A new version of a policy parameter. It never changes an earlier one."""

    model_config = ConfigDict(extra="forbid")
    code: PolicyCode
    district_code: DistrictCode = CITY_CODE
    value: int = Field(
        strict=True,
        ge=0,
        le=MAX_ASSET_FEN,
        examples=[110000],
        description="Integer value: fen (分) for money, permille (‰) for ratios (2000 = 2×), whole months "
        "(1 to 12) for a period. "
        f"0 to {MAX_ASSET_FEN:,} (an asset's bound in fen: the largest line a rule "
        "compares with)",
    )
    unit: Unit = Field(description="Must be the parameter's unit (see the catalogue); guards against yuan for fen")
    effective_on: dt.date = Field(description="First day the version is in force (生效日期)")
    citation: str = Field(min_length=2, max_length=2000, description="The document and sentence that set the value")
    is_assumption: bool = Field(False, description="True when no source gives the value (or the date)")
    note: str | None = Field(None, max_length=2000)


class PolicyVersionOut(Schema):
    id: int = Field(description="Version id: decisions name the version they used")
    code: PolicyCode
    label: str
    district_code: str
    value: int
    unit: Unit
    effective_on: dt.date
    citation: str
    is_assumption: bool
    note: str | None
    created_by: str
    created_at: dt.datetime


class PoliciesInForce(Schema):
    """The version of each parameter in force on `as_of` for `district` (its own, else the city-wide one)."""

    as_of: dt.date
    district_code: str
    items: list[PolicyVersionOut]
