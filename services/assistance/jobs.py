"""The assistance worker's tasks (shared/jobs.py): a screening started by staff.

Each handler opens its own sessions and calls the domain code (`discovery.runner`).
"""

from __future__ import annotations

from services.assistance.database import JOBS
from services.assistance.discovery import runner
from services.assistance.settings import AssistanceSettings
from shared.jobs import JobContext, Tasks

tasks = Tasks(JOBS)


@tasks.task("screening.run", max_attempts=runner.MAX_ATTEMPTS)
async def run_screening(ctx: JobContext) -> dict:
    """Screen the area of `screening_id` a chunk at a time (enqueued by POST /screenings)."""
    screening_id = ctx.args["screening_id"]
    await runner.run(ctx.database, screening_id, chunk=AssistanceSettings().screening_chunk, progress=ctx.progress,
                     last_attempt=ctx.attempt >= runner.MAX_ATTEMPTS)
    return {"screening_id": screening_id}
