import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from services.placenames.batches import export, flows, service
from services.placenames.batches.auth import ParseUser
from services.placenames.batches.models import BatchJob
from services.placenames.batches.schemas import JobOut
from services.placenames.database import IDEMPOTENCY_KEYS
from shared.app import api_prefix
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.uploads import PayloadTooLarge

router = APIRouter(prefix="/batch-standardizations", tags=["batch standardisation 批量标准化"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def _out(request: Request, job: BatchJob) -> JobOut:
    """Computed: the percent done and, once done, where to download the result."""
    done = job.status == "done"
    return JobOut(
        id=job.id,
        status=job.status,
        encoding=job.encoding,
        total_lines=job.total_lines,
        processed_lines=job.processed_lines,
        percent=100 * job.processed_lines // max(job.total_lines, 1),
        matched_lines=job.matched_lines,
        bad_lines=job.bad_lines,
        created_at=job.created_at,
        finished_at=job.finished_at,
        result_url=f"{api_prefix(request.app.state.settings.service_name)}/batch-standardizations/{job.id}/result"
        if done
        else None,
    )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    summary="Upload addresses to standardise",
    description="批量标准化: the body is a CSV file (`text/csv`), UTF-8 or GBK, of up to 100,000 lines: one "
    "address per line, or a header naming an `address`/`地址` column and optionally an `id`/`编号` "
    "column. Returns a job id at once; poll the job for its progress and download the result "
    "when done. A line that cannot be read (broken quoting, empty, too long) is reported in the "
    "result with its reason; it never stops the batch. A retried upload with the same `Idempotency-Key` "
    "returns the first job instead of starting a second.",
    responses=problem_responses(401, 403, 409, 413, 422),
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def upload(
    request: Request,
    session: Session,
    principal: ParseUser,
    encoding: Annotated[Literal["auto", "utf-8", "gbk"], Query(description="auto tries UTF-8, then GBK")] = "auto",
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobOut:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > service.MAX_BYTES:
        raise PayloadTooLarge("body", "the file is larger than {max_bytes} MB", max_bytes=service.MAX_BYTES // 2**20)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > service.MAX_BYTES:
            raise PayloadTooLarge(
                "body", "the file is larger than {max_bytes} MB", max_bytes=service.MAX_BYTES // 2**20
            )

    async def create() -> JobOut:
        return _out(request, await flows.upload(session, principal, bytes(body), encoding))

    fingerprint = {"sha256": hashlib.sha256(body).hexdigest(), "encoding": encoding}
    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, fingerprint, create, status_code=202)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    summary="A batch's progress",
    description="Progress in percent and counts. Only the partner who uploaded it sees it (404 for others). "
    "A batch whose worker stopped is taken up again by another worker from where it was.",
    responses=problem_responses(401, 403, 404, 422),
)
async def status(job_id: JobId, request: Request, session: Session, principal: ParseUser) -> JobOut:
    return _out(request, await service.get(session, principal, job_id))


@router.get(
    "/{job_id}/result",
    summary="Download a finished batch's result (CSV)",
    description="UTF-8 CSV, one row per uploaded line in order: the line number, the partner's id, the input, "
    "status (matched, ambiguous, unmatched, bad), the standard code and address, the confidence, "
    "the parts and the reasons. 409 while the batch is still running.",
    responses=problem_responses(401, 403, 404, 409, 422) | {200: {"content": {"text/csv": {}}}},
    response_class=StreamingResponse,
)
async def result(job_id: JobId, request: Request, session: Session, principal: ParseUser):
    job = await service.get(session, principal, job_id)
    service.require_done(job)
    return StreamingResponse(
        export.result_csv(request.app.state.database.sessionmaker, job_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{job_id}.csv"'},
    )
