"""The HTTP face of a service's jobs (shared/jobs.py): list them, follow one's progress, cancel one.

Every service mounts the same three routes at `/jobs`, each with its own read and cancel scopes.
"""

# No `from __future__ import annotations`: the routes' parameters are annotated with the `reader` and `canceller`
# given to jobs_router, which FastAPI could not resolve from strings (they are not module globals).

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import select

from shared.db import RowId, Session
from shared.errors import problem_responses
from shared.jobs import JobStatus, Tasks
from shared.pagination import Page, PageParams, keyset, page_of, page_params
from shared.schemas import Schema


# Not `JobOut`: placenames' import batches already publish a schema of that name in the merged OpenAPI.
class BackgroundJob(Schema):
    """A job of the service's worker processes (后台任务)."""

    id: int = Field(description="The job's id, in the order jobs were enqueued")
    task: str = Field(description="The task it runs")
    status: JobStatus = Field(description="queued, running, or how it ended")
    progress: int = Field(ge=0, le=100, description="Percent done")
    attempts: int = Field(description="Runs started so far (a worker that died mid-run counts)")
    max_attempts: int = Field(description="Runs allowed before the job fails for good")
    run_after: dt.datetime = Field(description="Not run before this instant")
    started_at: dt.datetime | None = Field(description="When its first run started")
    finished_at: dt.datetime | None = Field(description="When it ended")
    cancel_requested: bool = Field(description="A cancel was asked for; a running job stops at its next step")
    last_error: str | None = Field(description="The last line of the last error, when a run failed")
    result: dict[str, Any] | None = Field(description="What the task reported when it succeeded")


def job_out(row: dict[str, Any]) -> BackgroundJob:
    # The last line of a traceback says what went wrong; the whole one stays in the database and the logs.
    error = row["last_error"].strip().splitlines()[-1] if row["last_error"] else None
    fields = {k: row[k] for k in BackgroundJob.model_fields if k != "last_error"}
    return BackgroundJob(**fields, last_error=error)


def jobs_router(tasks: Tasks, *, reader: Any, canceller: Any) -> APIRouter:
    """`reader` and `canceller` are the service's principal dependencies (`Annotated[Principal, require(...)]`)."""
    router = APIRouter(prefix="/jobs", tags=["jobs 后台任务"])
    jobs = tasks.table

    @router.get(
        "",
        response_model=Page[BackgroundJob],
        summary="List jobs",
        description="The service's background jobs in the order they were enqueued, by task and status.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_jobs(
        session: Session,
        _p: reader,
        page: Annotated[PageParams, Depends(page_params)],
        task: Annotated[str | None, Query(max_length=80)] = None,
        status: Annotated[JobStatus | None, Query()] = None,
    ) -> Page[BackgroundJob]:
        query = select(jobs)
        if task:
            query = query.where(jobs.c.task == task)
        if status:
            query = query.where(jobs.c.status == status)
        rows = (await session.execute(keyset(query, jobs.c.id, page))).mappings().all()
        return page_of([job_out(dict(r)) for r in rows], page, key=lambda j: j.id)

    @router.get(
        "/{job_id}",
        response_model=BackgroundJob,
        summary="Follow a job",
        description="Status, progress in percent, attempts and the last error of one job.",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def get_job(session: Session, _p: reader, job_id: RowId) -> BackgroundJob:
        return job_out(await tasks.get(session, job_id))

    @router.post(
        "/{job_id}/cancel",
        response_model=BackgroundJob,
        summary="Cancel a job",
        description="A queued job is cancelled at once; a running one stops at its next step "
        "(`cancel_requested` is true until then). A finished job is a 409.",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def cancel_job(session: Session, _p: canceller, job_id: RowId) -> BackgroundJob:
        return job_out(await tasks.cancel(session, job_id))

    return router
