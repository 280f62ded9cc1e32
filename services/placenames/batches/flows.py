"""Batch standardisation across the API and the worker processes: what the router asks for, in the order it
must happen."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.batches import service
from services.placenames.batches.models import BatchJob
from services.placenames.jobs import tasks
from shared.identity import Principal


async def upload(session: AsyncSession, principal: Principal, body: bytes, encoding: str) -> BatchJob:
    """Store the batch and its lines, and enqueue its `batch.standardise` job in the same transaction: the
    worker sees the job exactly when the batch is committed."""
    job = await service.create(session, principal, body, encoding)
    await tasks.enqueue(session, "batch.standardise", {"batch_id": job.id})
    return job
