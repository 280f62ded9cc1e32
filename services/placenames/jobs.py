"""The place names service's jobs, run by its worker processes (`python -m services.placenames.worker`)."""

from __future__ import annotations

import datetime as dt

from services.placenames.batches import service as batches
from services.placenames.changes import service as changes
from services.placenames.database import JOBS
from services.placenames.settings import PlacenamesSettings
from shared.db import utcnow
from shared.jobs import Daily, JobContext, Tasks

tasks = Tasks(JOBS)


@tasks.task("batch.standardise")
async def standardise_batch(ctx: JobContext) -> dict:
    """A batch standardisation (批量标准化), chunk by chunk: a job taken over goes on from its first pending line."""
    batch_id = ctx.args["batch_id"]
    while (percent := await batches.standardise_next(ctx.database, batch_id)) is not None:
        await ctx.progress(percent)
    return {"batch_id": batch_id}


@tasks.task("changes.prune", schedule=Daily(dt.time(3, 30)))
async def prune_changes(ctx: JobContext) -> dict:
    """Drop the feed's changes older than `change_retention_days`; a reader left further behind gets a 410."""
    older_than = utcnow() - dt.timedelta(days=PlacenamesSettings().change_retention_days)
    async with ctx.database.sessionmaker() as session, session.begin():
        pruned = await changes.prune(session, older_than)
    return {"pruned": pruned}
