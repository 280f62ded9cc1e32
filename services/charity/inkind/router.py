from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.inkind import service
from services.charity.inkind.auth import InKindReader, InKindWriter
from services.charity.inkind.schemas import DispositionIn, DispositionOut, InKindIn, InKindOut, InKindReceiptIn, Kind
from services.charity.receipts.schemas import ReceiptOut, VoidIn
from shared.db import RowId, Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/in-kind-donations", tags=["in-kind donations 非货币捐赠"])


@router.post(
    "",
    status_code=201,
    response_model=InKindOut,
    summary="Record a non-cash gift",
    description="Goods (物资), intellectual property (知识产权), technology (技术), equity (股权) or securities "
    "(有价证券), each with its stated value and the basis of that value (invoice, market price, "
    "appraisal, agreement). Kept in a register apart from the cash ledger. A retry with the "
    "same `Idempotency-Key` returns the first result.",
    responses=problem_responses(401, 403, 404, 422),
)
async def record_gift(
    data: InKindIn,
    request: Request,
    session: Session,
    principal: InKindWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InKindOut:
    async def create() -> InKindOut:
        return await service.to_out(session, await service.record(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "",
    response_model=Page[InKindOut],
    summary="The register of non-cash gifts",
    description="Non-cash gifts (非货币捐赠) of organisations in your area with what remains of each.",
    responses=problem_responses(401, 403, 422),
)
async def list_gifts(
    session: Session,
    principal: InKindReader,
    page: Annotated[PageParams, Depends(page_params)],
    organization_id: int | None = None,
    kind: Annotated[Kind | None, Query()] = None,
) -> Page[InKindOut]:
    rows = await service.list_visible(session, principal, page, organization_id=organization_id, kind=kind)
    return page_of([await service.to_out(session, r) for r in rows], page, key=lambda g: g.id)


@router.get(
    "/{gift_id}",
    response_model=InKindOut,
    summary="One non-cash gift with its uses and disposals",
    description="The gift, its stated value and basis, each use or disposal, and its receipt.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_gift(gift_id: int, session: Session, principal: InKindReader) -> InKindOut:
    return await service.to_out(session, await service.get_visible(session, principal, gift_id))


@router.post(
    "/{gift_id}/dispositions",
    status_code=201,
    response_model=DispositionOut,
    summary="Record a use or disposal",
    description="Part of the gift distributed (发放), used (使用), sold (变卖, with the proceeds), transferred "
    "(转让) or scrapped (报废). Never more than what remains (409); concurrent records of one gift "
    "are taken one at a time.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def dispose(
    gift_id: int,
    data: DispositionIn,
    request: Request,
    session: Session,
    principal: InKindWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DispositionOut:
    async def create() -> DispositionOut:
        return await service.dispose(session, principal, gift_id, data)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.post(
    "/{gift_id}/receipt",
    status_code=201,
    response_model=ReceiptOut,
    summary="Issue the gift's receipt",
    description="A receipt with the kind and quantity, numbered in the organisation's yearly sequence "
    "with its money receipts (no gaps). One live receipt per gift (409 naming it); after it is voided "
    "(作废) the gift may be receipted anew.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def issue_receipt(gift_id: int, data: InKindReceiptIn, session: Session, principal: InKindWriter) -> ReceiptOut:
    return await service.issue_receipt(session, principal, gift_id, data)


@router.post(
    "/{gift_id}/receipt/voids",
    status_code=201,
    response_model=ReceiptOut,
    summary="Void the gift's receipt",
    description="Staff void (作废) the live receipt of a non-cash gift (物资等), e.g. one printed with a mistake, "
    "stating why. The receipt is kept with its number, which is never issued again (the numbers stay "
    "gap-free), shown as voided with when and why; the gift may then be receipted anew. A gift with no "
    "receipt, or whose receipt is voided already, is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def void_receipt(gift_id: RowId, data: VoidIn, session: Session, principal: InKindWriter) -> ReceiptOut:
    return await service.void_receipt(session, principal, gift_id, data)
