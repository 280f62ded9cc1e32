from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.charity.ledger import reconciliation, service
from services.charity.ledger.auth import LedgerReader
from services.charity.ledger.schemas import AccountKind, AccountOut, EntryOut, ReconciliationOut
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["ledger 账本"])


@router.get(
    "/ledger/accounts",
    response_model=Page[AccountOut],
    summary="Ledger accounts with balances",
    description="Accounts of organisations in your area: clearing (捐赠清算, donor-facing), project (项目资金) "
    "and disbursement (拨付). Debits, credits and balance are summed from the entries at read "
    "time; nothing is stored as a counter.",
    responses=problem_responses(401, 403, 422),
)
async def list_accounts(
    session: Session,
    principal: LedgerReader,
    page: Annotated[PageParams, Depends(page_params)],
    organization_id: int | None = None,
    project_id: int | None = None,
    kind: Annotated[AccountKind | None, Query()] = None,
) -> Page[AccountOut]:
    rows = await service.list_accounts(
        session, principal, page, organization_id=organization_id, project_id=project_id, kind=kind
    )
    items = [
        AccountOut(
            id=a.id,
            key=a.key,
            kind=a.kind,
            organization_id=a.organization_id,
            project_id=a.project_id,
            name=a.name,
            debits_fen=d,
            credits_fen=c,
            balance_fen=b,
        )
        for a, d, c, b in rows
    ]
    return page_of(items, page, key=lambda a: a.id)


@router.get(
    "/ledger/entries",
    response_model=Page[EntryOut],
    summary="Ledger entries",
    description="The append-only journal (分录) of organisations in your area, oldest first; filter by "
    "account, group or project. Each group's entries balance.",
    responses=problem_responses(401, 403, 422),
)
async def list_entries(
    session: Session,
    principal: LedgerReader,
    page: Annotated[PageParams, Depends(page_params)],
    account_id: int | None = None,
    group_id: int | None = None,
    project_id: int | None = None,
) -> Page[EntryOut]:
    rows = await service.list_entries(
        session, principal, page, account_id=account_id, group_id=group_id, project_id=project_id
    )
    items = [
        EntryOut(
            id=e.id,
            group_id=g.id,
            group_kind=g.kind,
            reverses_group_id=g.reverses_group_id,
            account_id=a.id,
            account_kind=a.kind,
            project_id=g.project_id,
            side="debit" if e.amount_fen > 0 else "credit",
            amount_fen=abs(e.amount_fen),
            memo=g.memo,
            created_at=g.created_at,
        )
        for e, g, a in rows
    ]
    return page_of(items, page, key=lambda e: e.id)


@router.post(
    "/reconciliations",
    status_code=201,
    response_model=ReconciliationOut,
    summary="Run a reconciliation",
    description="对账: checks, for the organisations of your area, that every ledger group is sealed and "
    "balances, that each donation, refund and disbursement matches its group, that no "
    "donation is refunded beyond its amount, that no fund is negative, and that each "
    "project's totals from the ledger equal those of the records. Reports every difference; "
    "corrects nothing. The run is kept.",
    responses=problem_responses(401, 403),
)
async def run_reconciliation(session: Session, principal: LedgerReader) -> ReconciliationOut:
    return ReconciliationOut.model_validate(await reconciliation.reconcile(session, principal))


@router.get(
    "/reconciliations/{run_id}",
    response_model=ReconciliationOut,
    summary="One reconciliation run",
    description="A past run of the reconciliation (对账) with every difference it found.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_reconciliation(run_id: int, session: Session, principal: LedgerReader) -> ReconciliationOut:
    return ReconciliationOut.model_validate(await reconciliation.get_reconciliation(session, principal, run_id))
