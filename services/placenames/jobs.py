"""The place names service's jobs, run by its worker processes (`python -m services.placenames.worker`)."""

from __future__ import annotations

from services.placenames.batches import service as batches
from services.placenames.database import JOBS
from shared.jobs import JobContext, Tasks

tasks = Tasks(JOBS)


@tasks.task("batch.standardise")
async def standardise_batch(ctx: JobContext) -> dict:
    """A batch standardisation (批量标准化), chunk by chunk: a job taken over goes on from its first pending line."""
    batch_id = ctx.args["batch_id"]
    while (percent := await batches.standardise_next(ctx.database, batch_id)) is not None:
        await ctx.progress(percent)
    return {"batch_id": batch_id}
