from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.receipts import service
from services.charity.receipts.auth import ReceiptsReader, ReceiptsWriter
from services.charity.receipts.schemas import (
    DeclineIn,
    DeclineOut,
    MergedReceiptIn,
    ReceiptIn,
    ReceiptOut,
    ReceiptStatus,
    VoidIn,
)
from shared.db import RowId, Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/receipts", tags=["receipts 捐赠票据"])


@router.post(
    "",
    status_code=201,
    response_model=ReceiptOut,
    summary="Issue a receipt for a donation",
    description="A donation receipt (捐赠票据) with the donor, kind, amount, organisation, handler (经手人) and "
    "date, numbered per organisation and year without gaps. One live receipt per donation: a "
    "donation with a receipt not voided (作废), or whose donor declined, is a 409 naming what "
    "blocked it; one refunded in full is a 409. The amount is what remains after refunds. After "
    "its receipt is voided (by a refund in part, or by staff) a donation may be receipted anew.",
    responses=problem_responses(401, 403, 409, 422),
)
async def issue_receipt(
    data: ReceiptIn,
    request: Request,
    session: Session,
    principal: ReceiptsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ReceiptOut:
    async def create() -> ReceiptOut:
        return await service.issue(session, principal, data)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.post(
    "/merged",
    status_code=201,
    response_model=ReceiptOut,
    summary="Merge a day's small gifts",
    description="One receipt under 爱心人士 for an organisation's gifts of a day (Asia/Shanghai) that are "
    "50 yuan or less, or anonymous, and have no live receipt and no decline: gifts whose "
    "receipt was voided (作废) are merged again. A 409 when there is none left.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def issue_merged_receipt(
    data: MergedReceiptIn,
    request: Request,
    session: Session,
    principal: ReceiptsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ReceiptOut:
    async def create() -> ReceiptOut:
        return await service.issue_merged(session, principal, data)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.post(
    "/declines",
    status_code=201,
    response_model=DeclineOut,
    summary="Record that a donor declines a receipt",
    description="The donor does not want a receipt (放弃开具): recorded, and the donation is then never "
    "receipted nor merged. A 409 if it already has a receipt or a decline.",
    responses=problem_responses(401, 403, 409, 422),
)
async def decline_receipt(data: DeclineIn, session: Session, principal: ReceiptsWriter) -> DeclineOut:
    return await service.decline(session, principal, data)


@router.get(
    "",
    response_model=Page[ReceiptOut],
    summary="List receipts of your area",
    description="Receipts (捐赠票据) of organisations in your area, by organisation, year and status: "
    "issued (已开具) or voided (作废), a voided one with when and why.",
    responses=problem_responses(401, 403, 422),
)
async def list_receipts(
    session: Session,
    principal: ReceiptsReader,
    page: Annotated[PageParams, Depends(page_params)],
    organization_id: int | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: Annotated[ReceiptStatus | None, Query(description="issued (已开具) or voided (作废)")] = None,
) -> Page[ReceiptOut]:
    rows = await service.list_visible(
        session, principal, page, organization_id=organization_id, year=year, status=status
    )
    return page_of(rows, page, key=lambda r: r.id)


@router.get(
    "/{receipt_id}",
    response_model=ReceiptOut,
    summary="One receipt",
    description="A receipt with the donations it covers (several for a merged receipt), and its status: "
    "issued (已开具) or voided (作废), with when, why and the refund that voided it, if one did.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_receipt(receipt_id: int, session: Session, principal: ReceiptsReader) -> ReceiptOut:
    return await service.get_visible(session, principal, receipt_id)


@router.post(
    "/{receipt_id}/voids",
    status_code=201,
    response_model=ReceiptOut,
    summary="Void a receipt",
    description="Staff void (作废) a money receipt, e.g. one printed with a mistake, stating why. The receipt is "
    "kept with its number, which is never issued again (the numbers stay gap-free); its donations "
    "may then be receipted anew. A refund of a donation voids its receipt by itself (a merged "
    "receipt as a whole). A receipt voided already, or one for a non-cash gift (the in-kind "
    "register's: POST /in-kind-donations/{gift_id}/receipt/voids), is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def void_receipt(receipt_id: RowId, data: VoidIn, session: Session, principal: ReceiptsWriter) -> ReceiptOut:
    return await service.void(session, principal, receipt_id, data)
