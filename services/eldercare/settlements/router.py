from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.eldercare.settlements import service
from services.eldercare.settlements.auth import StatementsApprover, StatementsReader, StatementsWriter
from services.eldercare.settlements.schemas import ApprovalIn, RefundIn, RefundOut, StatementIn, StatementOut
from services.eldercare.settlements.service import XLSX_MEDIA_TYPE
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params
from shared.schemas import MONTH_PATTERN

router = APIRouter(tags=["meal settlement 助餐结算"])


@router.post(
    "/canteens/{canteen_id}/meal-statements",
    response_model=StatementOut,
    summary="Produce a canteen's monthly settlement statement",
    description="Produces the canteen's statement (结算单) for `month` from its orders, or brings a draft up to "
    "date: the orders of its menus served in the month by subsidy tier, the cancellations, the refunds of those "
    "orders, and as adjustments the refunds of orders of earlier, already approved months. Idempotent: while the "
    "orders are unchanged the statement stays as it is, revision and all; when they changed, its `revision` is "
    "bumped. An approved statement is locked: 409. A month not yet begun: 400. The monthly job produces every "
    "canteen's statement of the month before on the 1st at 01:00 (Asia/Shanghai).",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def produce(canteen_id: int, data: StatementIn, session: Session, principal: StatementsWriter) -> StatementOut:
    return await service.produce_in_area(session, principal, canteen_id, data.month)


@router.get(
    "/meal-statements",
    response_model=Page[StatementOut],
    summary="Meal settlement statements",
    description="Statements of the canteens in the caller's area, newest first, by month, canteen or status.",
    responses=problem_responses(401, 403, 422),
)
async def list_statements(
    session: Session,
    principal: StatementsReader,
    page: Annotated[PageParams, Depends(page_params)],
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM")] = None,
    canteen_id: int | None = None,
    status: Literal["draft", "approved"] | None = None,
) -> Page[StatementOut]:
    rows = await service.list_statements(session, principal, page, month=month, canteen_id=canteen_id, status=status)
    return page_of(rows, page, key=lambda s: s.id)


@router.get(
    "/meal-statements/{statement_id}",
    response_model=StatementOut,
    summary="One meal settlement statement",
    description="Its totals in fen, its lines by section and subsidy tier, its revision and approval. 404 for a "
    "statement of a canteen outside the caller's area.",
    responses=problem_responses(401, 403, 404),
)
async def get_statement(statement_id: int, session: Session, principal: StatementsReader) -> StatementOut:
    return await service.get_statement(session, principal, statement_id)


@router.get(
    "/meal-statements/{statement_id}/export",
    summary="Export a meal settlement statement (CSV or .xlsx)",
    description="The statement as a file, `format` csv (UTF-8 with a byte-order mark, so spreadsheet programs show "
    "the Chinese) or xlsx: its lines, then each order it counts and each adjustment, amounts in fen. People appear "
    "by their register id only.",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}, XLSX_MEDIA_TYPE: {"schema": {"type": "string"}}},
            "description": "The file",
        }
    }
    | problem_responses(401, 403, 404, 422),
)
async def export_statement(
    statement_id: int, session: Session, principal: StatementsReader, format: Literal["csv", "xlsx"] = "csv"
) -> Response:
    filename, body, media_type = await service.export(session, principal, statement_id, format)
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post(
    "/meal-statements/{statement_id}/approve",
    response_model=StatementOut,
    summary="Approve a meal settlement statement (locks it)",
    description="Staff of the canteen's district (区民政局) approve the revision they reviewed, once the month has "
    "ended. From then on the statement, the subsidy of every order it covers and the refunds settled in it cannot "
    "change (the database refuses it); a later refund of one of its orders is settled in the month it is made, as an "
    "adjustment. Another revision than the current one, or orders that changed since it was produced: 409. "
    "Approving twice, or two approvers at once: one approval, the other a 409.",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def approve(statement_id: int, data: ApprovalIn, session: Session, principal: StatementsApprover) -> StatementOut:
    return await service.approve(session, principal, statement_id, data.revision)


@router.post(
    "/meal-orders/{order_id}/refund",
    status_code=201,
    response_model=RefundOut,
    summary="Refund a served meal",
    description="After the cut-off (before it the order is cancelled instead), gives back the whole order: the "
    "canteen loses its subsidy, the person gets back what they paid. Settled in the statement of the order's month "
    "while that is not approved; once it is, in the month of the refund, as an adjustment. Once per order (409).",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def refund(order_id: int, data: RefundIn, session: Session, principal: StatementsWriter) -> RefundOut:
    return await service.refund(session, principal, order_id, data.reason)
