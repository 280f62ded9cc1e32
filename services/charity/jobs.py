"""The charity service's jobs, run by its worker processes (`python -m services.charity.worker`)."""

from __future__ import annotations

import datetime as dt

from services.charity.database import JOBS, PII_READS, SPREADSHEETS
from services.charity.ledger import reconciliation
from services.charity.organizations.models import Organization
from services.charity.projects.models import ProjectSite
from services.charity.scopes import LEDGER_READ
from services.charity.settings import CharitySettings
from services.charity.spreadsheets import EXPORTERS
from shared.addresses import AddressTable, register_standardise_task
from shared.identity import system_principal
from shared.jobs import Daily, JobContext, Tasks
from shared.spreadsheet_transfers import Spreadsheets

tasks = Tasks(JOBS)
# Spreadsheet exports: the task `spreadsheets.export` (and `spreadsheets.import`, with nothing to import yet).
spreadsheets = Spreadsheets(SPREADSHEETS, tasks, pii_reads=PII_READS, exporters=EXPORTERS)

# Domiciles and project sites written while placenames was down, and the organisations registered before
# domiciles were recorded.
# Every table of the service with standard addresses (a test holds the list to the models); importing them here
# also puts them in the worker's change-feed follower (shared/changefeed.address_tables).
ADDRESS_TABLES = [AddressTable(Organization, "organizations"), AddressTable(ProjectSite, "project_sites")]
register_standardise_task(tasks, CharitySettings, ADDRESS_TABLES)


@tasks.task("ledger.reconcile", schedule=Daily(dt.time(2, 0)))
async def reconcile_ledger(ctx: JobContext) -> dict:
    """The nightly reconciliation (对账) of the whole city's ledger, kept like a run of POST /reconciliations."""
    async with ctx.database.sessionmaker() as session, session.begin():
        run = await reconciliation.nightly(
            session, system_principal("charity", LEDGER_READ), dt.datetime.fromisoformat(ctx.args["slot"])
        )
    return {"reconciliation_id": run.id, "balanced": run.balanced, "differences": len(run.differences)}
