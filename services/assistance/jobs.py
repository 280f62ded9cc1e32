"""The assistance worker's tasks (shared/jobs.py): a screening started by staff (its own job and helpers that let
more workers share its chunks), and the daily reviews due.

Each handler opens its own sessions and calls the domain code: `discovery.runner` and `applications.service`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.applications import service as applications
from services.assistance.database import JOBS, PII_READS, SPREADSHEETS
from services.assistance.discovery import runner
from services.assistance.discovery.runner import Share
from services.assistance.households.models import Household
from services.assistance.notices import outbox
from services.assistance.scopes import APPLICATIONS_READ
from services.assistance.settings import AssistanceSettings
from services.assistance.spreadsheets import EXPORTERS, IMPORTERS
from shared.addresses import AddressTable, register_standardise_task
from shared.identity import system_principal
from shared.jobs import Daily, JobContext, Tasks
from shared.spreadsheet_transfers import Spreadsheets

tasks = Tasks(JOBS)
# Spreadsheet imports and exports: the tasks `spreadsheets.import` and `spreadsheets.export`.
spreadsheets = Spreadsheets(SPREADSHEETS, tasks, pii_reads=PII_READS, importers=IMPORTERS, exporters=EXPORTERS)
tasks.include(outbox.tasks)  # notifications: fan-out and sending (shared/notifications.py)

# Addresses written while placenames was down, and those the migration to standard addresses marked pending.
ADDRESS_TABLES = [AddressTable(Household, "households")]  # every one of the service's (a test holds it to the models)
register_standardise_task(tasks, AssistanceSettings, ADDRESS_TABLES)


def _share(ctx: JobContext) -> Share:
    """The name this job attempt holds chunks under, and the worker's lease."""
    return Share(f"{ctx.runner.name}#{ctx.job_id}.{ctx.attempt}", ctx.runner.lease)


@tasks.task("screening.run", max_attempts=runner.MAX_ATTEMPTS)
async def run_screening(ctx: JobContext) -> dict:
    """Screen the area of `screening_id` a chunk at a time (enqueued by POST /screenings), with helper jobs for
    other workers to join."""
    screening_id = ctx.args["screening_id"]
    settings = AssistanceSettings()

    async def helpers(session: AsyncSession) -> None:
        for _ in range(settings.screening_workers - 1):
            await tasks.enqueue(session, "screening.chunks", {"screening_id": screening_id})

    await runner.run(
        ctx.database,
        screening_id,
        chunk=settings.screening_chunk,
        in_flight=settings.screening_chunks_in_flight,
        share=_share(ctx),
        progress=ctx.progress,
        last_attempt=ctx.attempt >= runner.MAX_ATTEMPTS,
        on_start=helpers,
    )
    return {"screening_id": screening_id}


@tasks.task("screening.chunks", max_attempts=runner.MAX_ATTEMPTS)
async def share_screening(ctx: JobContext) -> dict:
    """Join a running screening: claim and screen its chunks beside the other workers until none is left."""
    screening_id = ctx.args["screening_id"]
    chunks = await runner.join(
        ctx.database,
        screening_id,
        in_flight=AssistanceSettings().screening_chunks_in_flight,
        share=_share(ctx),
        progress=ctx.progress,
    )
    return {"screening_id": screening_id, "chunks": chunks}


@tasks.task("reviews.remind", schedule=Daily(dt.time(6, 0)))
async def remind_reviews(ctx: JobContext) -> dict:
    """Each morning, record that the periodic reviews (定期复核) due by today fell due, once per application."""
    due_by = dt.datetime.fromisoformat(ctx.args["slot"]).date()  # the slot's own day, Asia/Shanghai
    async with ctx.database.sessionmaker() as session, session.begin():
        reminded = await applications.remind_reviews_due(
            session, system_principal("assistance", APPLICATIONS_READ), due_by=due_by
        )
    return {"due_by": due_by.isoformat(), "reminded": reminded}
