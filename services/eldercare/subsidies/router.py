from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.subsidies import flows, service
from services.eldercare.subsidies.auth import AllowanceRatesWriter, SubsidiesReader, SubsidiesWriter
from services.eldercare.subsidies.schemas import (
    AccountIn,
    AccountOut,
    AdjustmentIn,
    AllowanceRateIn,
    AllowanceRateOut,
    EntryOut,
    GrantIn,
    GrantReport,
)
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["home-care subsidy 居家养老服务补助"])


@router.post(
    "/allowance-rates",
    status_code=201,
    response_model=AllowanceRateOut,
    summary="Add a version of a monthly allowance rate",
    description="The monthly home-care allowance for a tier (特困, 低保, 低保边缘, 80+, 60–79) and capability "
    "level, city-wide or for a district, from a date. City staff; versions are never changed.",
    responses=problem_responses(401, 403, 409, 422),
)
async def add_rate(data: AllowanceRateIn, session: Session, principal: AllowanceRatesWriter) -> AllowanceRateOut:
    return AllowanceRateOut.model_validate(await service.add_rate(session, principal, data))


@router.post(
    "/subsidy-accounts",
    status_code=201,
    response_model=AccountOut,
    summary="Open a subsidy account",
    description="Opens the home-care subsidy account of an eligible person: the tier comes from the "
    "assistance service (特困, 低保, 低保边缘; else the age band), the level from the latest "
    "capability assessment (or `level`). Refused (400) when no allowance is in force for them.",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def open_account(
    data: AccountIn,
    request: Request,
    session: Session,
    principal: SubsidiesWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AccountOut:
    return await flows.open_account(request, session, principal, data)


@router.get(
    "/subsidy-accounts",
    response_model=Page[AccountOut],
    summary="Subsidy accounts you may see",
    description="Staff: their area; residents: the people they care for.",
    responses=problem_responses(401, 403, 422),
)
async def list_accounts(
    session: Session,
    principal: SubsidiesReader,
    page: Annotated[PageParams, Depends(page_params)],
    elder_id: int | None = None,
) -> Page[AccountOut]:
    rows = await service.list_accounts(session, principal, page, elder_id=elder_id)
    return page_of([AccountOut.model_validate(a) for a in rows], page, key=lambda a: a.id)


@router.get(
    "/subsidy-accounts/{account_id}",
    response_model=AccountOut,
    summary="One subsidy account",
    description="Tier, level, and the balance (never below zero).",
    responses=problem_responses(401, 403, 404),
)
async def get_account(account_id: int, session: Session, principal: SubsidiesReader) -> AccountOut:
    return AccountOut.model_validate(await service.get_account(session, principal, account_id))


@router.get(
    "/subsidy-accounts/{account_id}/entries",
    response_model=Page[EntryOut],
    summary="The account's ledger",
    description="Newest first: monthly allowances (+), draws by verified visits (−), adjustments (±), each "
    "with the balance after it.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_entries(
    account_id: int, session: Session, principal: SubsidiesReader, page: Annotated[PageParams, Depends(page_params)]
) -> Page[EntryOut]:
    rows = await service.entries(session, principal, account_id, page)
    return page_of([EntryOut.model_validate(e) for e in rows], page, key=lambda e: e.id)


@router.post(
    "/subsidy-accounts/{account_id}/adjustments",
    status_code=201,
    response_model=EntryOut,
    summary="Adjust a balance",
    description="A signed correction by staff, with a note. A debit the balance does not cover is a 409: the "
    "balance never goes below zero. With an `Idempotency-Key`, a retry moves the balance once.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def adjust(
    account_id: int,
    data: AdjustmentIn,
    request: Request,
    session: Session,
    principal: SubsidiesWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> EntryOut:
    async def create() -> EntryOut:
        return EntryOut.model_validate(await service.adjust(session, principal, account_id, data.amount_fen, data.note))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.post(
    "/subsidy-accounts/grants",
    response_model=GrantReport,
    summary="Grant a month's allowances (job)",
    description="Credits every account in the caller's area with the allowance in force on the first day of "
    "`month`. The worker grants the month for the whole city on its 1st at 00:30 (job "
    "`subsidies.grant_month`). One allowance per account and month: running it again credits "
    "nothing.",
    responses=problem_responses(401, 403, 422),
)
async def grant(data: GrantIn, session: Session, principal: SubsidiesWriter) -> GrantReport:
    return await service.grant_month(session, principal, data.month)
