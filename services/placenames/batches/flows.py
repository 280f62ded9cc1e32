"""Batch standardisation across transactions and workers: what the router asks for, in the order it must happen."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.batches import service
from services.placenames.batches.models import BatchJob
from shared.identity import Principal


async def upload(app, session: AsyncSession, principal: Principal, body: bytes, encoding: str) -> BatchJob:
    """Store the job and its lines, commit, and start its worker."""
    job = await service.create(session, principal, body, encoding)
    # The worker reads the job from the database: it must be committed before the worker starts.
    await session.commit()
    service.start(app, job.id)
    return job


async def progress(app, session: AsyncSession, principal: Principal, job_id: str) -> BatchJob:
    """The caller's job; a job whose worker stopped (its lease ran out) gets a new one here."""
    job = await service.get(session, principal, job_id)
    if service.needs_worker(job):
        service.start(app, job.id)
    return job
