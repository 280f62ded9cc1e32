from fastapi import APIRouter

from services.assistance.assessment import service
from services.assistance.assessment.schemas import (
    AssetIn,
    AssetOut,
    EconomicSummary,
    IncomeIn,
    IncomeOut,
    MedicalExpenseIn,
    MedicalExpenseOut,
)
from services.assistance.households.auth import HouseholdsPiiReader, HouseholdsReader, HouseholdsWriter
from shared.db import Session
from shared.errors import problem_responses
from shared.pii_reads import PiiReadIn, PiiReadOut

router = APIRouter(prefix="/households/{household_id}", tags=["assessment 家庭经济状况认定"])


@router.post(
    "/incomes",
    status_code=201,
    response_model=IncomeOut,
    summary="Record an income of a member",
    description="An income (工资性收入, 经营净收入, 财产净收入, 转移净收入, 养老金) over a period of whole months "
    "(YYYY-MM to YYYY-MM, at most 12, none in the future), as a total in fen, with its source: "
    "a department's data (e.g. 市人力社保局) or the applicant's declaration (申请人申报), and the "
    "day it was obtained. Exempt items (优待抚恤金, 计划生育奖励扶助金, 奖学金, 见义勇为奖励, "
    "政府救助金, 基础养老金) are recorded with `exempt: true` and never counted. Negative "
    "amounts and periods that make no sense are a 422 naming the field. The amounts are stored "
    "encrypted and masked (null) in the answer: see `.../incomes/{income_id}/pii-reads`.",
    responses=problem_responses(401, 403, 404, 422),
)
async def add_income(household_id: int, data: IncomeIn, session: Session, principal: HouseholdsWriter) -> IncomeOut:
    return service.income_out(await service.add_income(session, principal, household_id, data))


@router.post(
    "/incomes/{income_id}/pii-reads",
    status_code=201,
    response_model=PiiReadOut,
    summary="Read an income's amounts in the clear (audited)",
    description="Incomes are stored encrypted and masked in every response. For a stated purpose (e.g. "
    "入户调查：核对收入), the income's `amount_fen` and `monthly_fen` in the clear, as "
    "`incomes.{id}.amount_fen` and `incomes.{id}.monthly_fen`. Each read writes an append-only "
    "audit record about the member whose income it is (who, whose, when, why, request id) in the "
    "same transaction. Needs `assistance.pii:read` besides `assistance.households:read`; a "
    "household outside your area is 404, as is an income not in the household.",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_income_amounts(
    household_id: int, income_id: int, data: PiiReadIn, session: Session, principal: HouseholdsPiiReader
) -> PiiReadOut:
    return await service.read_income_amounts(session, principal, household_id, income_id, data.purpose)


@router.post(
    "/assets",
    status_code=201,
    response_model=AssetOut,
    summary="Record an asset",
    description="Deposits (存款), securities (有价证券), vehicles (机动车) or housing (房产) of the household or "
    "one member, valued in fen, with its source and date.",
    responses=problem_responses(401, 403, 404, 422),
)
async def add_asset(household_id: int, data: AssetIn, session: Session, principal: HouseholdsWriter) -> AssetOut:
    return service.asset_out(await service.add_asset(session, principal, household_id, data))


@router.post(
    "/medical-expenses",
    status_code=201,
    response_model=MedicalExpenseOut,
    summary="Record a rigid medical expense of a member",
    description="What the household paid itself for a member's treatment (个人自付, after medical insurance) "
    "over a period of whole months (YYYY-MM to YYYY-MM, at most 12, none in the future), with "
    "its source: 医保 settlement data (e.g. 市医疗保障局) or the applicant's receipts (申请人申报). "
    "The expenses of the past 12 months feed the 支出型 (expenditure-type) assessment of "
    "`POST /eligibility-checks`. Negative amounts and periods that make no sense are a 422.",
    responses=problem_responses(401, 403, 404, 422),
)
async def add_medical_expense(
    household_id: int, data: MedicalExpenseIn, session: Session, principal: HouseholdsWriter
) -> MedicalExpenseOut:
    return service.medical_expense_out(await service.add_medical_expense(session, principal, household_id, data))


@router.get(
    "/economic-status",
    response_model=EconomicSummary,
    summary="The household's economic assessment",
    description="Every income and asset with its source. Income amounts and the income totals are masked "
    "(null): each income is read in the clear with `.../incomes/{income_id}/pii-reads` (audited), "
    "and the eligibility check shows the counted income it decides on (members who count, exempt "
    "items left out, the employment cost deduction in force on its date).",
    responses=problem_responses(401, 403, 404),
)
async def economic_status(household_id: int, session: Session, principal: HouseholdsReader) -> EconomicSummary:
    return await service.summary(session, principal, household_id)


@router.post(
    "/economic-status/pii-reads",
    status_code=201,
    response_model=PiiReadOut,
    summary="Read the household's income totals in the clear (audited)",
    description="The masked totals of `GET .../economic-status` (`counted_monthly_income_fen`, "
    "`exempt_monthly_income_fen`) in the clear, for a stated purpose, with an append-only audit "
    "record about the household. Needs `assistance.pii:read` besides "
    "`assistance.households:read`; a household outside your area is 404.",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_income_totals(
    household_id: int, data: PiiReadIn, session: Session, principal: HouseholdsPiiReader
) -> PiiReadOut:
    return await service.read_income_totals(session, principal, household_id, data.purpose)
