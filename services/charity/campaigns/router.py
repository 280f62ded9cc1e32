from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from services.charity.campaigns import service
from services.charity.campaigns.auth import CampaignsReader, CampaignsWriter, PayrollUploader
from services.charity.campaigns.schemas import BatchOut, CampaignIn, CampaignOut, Participation, UnitIn, UnitOut
from services.charity.database import IDEMPOTENCY_KEYS
from shared.db import Session
from shared.errors import InvalidInput, problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent

router = APIRouter(prefix="/campaigns", tags=["campaigns 慈善一日捐"])

MAX_BATCH_BYTES = 32 * 1024 * 1024  # a 100,000-row payroll file is about 3 MB


@router.post(
    "",
    status_code=201,
    response_model=CampaignOut,
    summary="Start a one-day donation campaign",
    description="慈善一日捐 for the government units of your area; the money goes to a fundraising project "
    "(募捐中). Participation target 95% by default.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_campaign(
    data: CampaignIn,
    request: Request,
    session: Session,
    principal: CampaignsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CampaignOut:
    async def create() -> CampaignOut:
        return CampaignOut.model_validate(await service.create(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/{campaign_id}",
    response_model=CampaignOut,
    summary="One campaign",
    description="A one-day donation campaign (慈善一日捐) and the project receiving its money.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_campaign(campaign_id: int, session: Session, principal: CampaignsReader) -> CampaignOut:
    return CampaignOut.model_validate(await service.get(session, campaign_id))


@router.post(
    "/{campaign_id}/units",
    status_code=201,
    response_model=UnitOut,
    summary="Enrol a unit",
    description="A government unit with its credit code (validated) and headcount (在编在岗人数), the base "
    "of its participation rate. A unit enrolled twice is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_unit(campaign_id: int, data: UnitIn, session: Session, principal: CampaignsWriter) -> UnitOut:
    return UnitOut.model_validate(await service.add_unit(session, principal, campaign_id, data))


@router.post(
    "/{campaign_id}/units/{unit_id}/batches",
    status_code=201,
    response_model=BatchOut,
    summary="Upload a payroll donation batch (CSV)",
    description="The request body is the CSV file (`text/csv`, UTF-8 or GB18030) with a header naming "
    "`employee_no` (工号) and `amount` (金额, yuan); other columns such as names are ignored and "
    "not kept. `control_rows` and `control_total_fen` are the control totals from the payroll "
    "system: if they do not match the file, or any row is invalid, the whole batch is rejected "
    "(422 listing the problems) and nothing is written. An accepted batch is one donation of "
    "the unit to the campaign's project. Uploading the same batch again changes nothing "
    "(200 with the first result); the same number with other rows, or the same rows (in any "
    "encoding, order or layout) under another number, is a 409 naming the earlier batch. A "
    "correction names the batch it replaces (`replaces`, staff only): in one transaction that "
    "batch's donation is refunded through the ledger and this one imported; the replaced "
    "batch no longer counts.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "example": "employee_no,name,amount\nE001,张三,100.00\nE002,李四,50.00\n",
                    }
                }
            },
        }
    },
    responses={
        200: {"model": BatchOut, "description": "The same batch, already imported"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def upload_batch(
    campaign_id: int,
    unit_id: int,
    request: Request,
    session: Session,
    principal: PayrollUploader,
    batch_no: Annotated[str, Query(min_length=1, max_length=60, description="批次号")],
    control_rows: Annotated[int, Query(ge=1, le=1_000_000, description="控制行数")],
    control_total_fen: Annotated[int, Query(ge=1, description="控制总额 (fen)")],
    replaces: Annotated[
        str | None, Query(min_length=1, max_length=60, description="The batch number this batch corrects")
    ] = None,
) -> JSONResponse:
    content = await request.body()
    if len(content) > MAX_BATCH_BYTES:
        raise InvalidInput("body", "at most {max_batch_bytes} MB", max_batch_bytes=MAX_BATCH_BYTES // (1024 * 1024))
    batch, created = await service.upload(
        session,
        principal,
        campaign_id,
        unit_id,
        batch_no=batch_no,
        control_rows=control_rows,
        control_total_fen=control_total_fen,
        content=content,
        replaces=replaces,
    )
    return JSONResponse(BatchOut.model_validate(batch).model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "/{campaign_id}/participation",
    response_model=Participation,
    summary="Participation per unit",
    description="Per unit: distinct payroll numbers with a gift over the headcount, against the target "
    "(95%); and overall. Staff see the units of their area.",
    responses=problem_responses(401, 403, 404, 422),
)
async def participation(campaign_id: int, session: Session, principal: CampaignsReader) -> Participation:
    return await service.participation(session, principal, campaign_id)
