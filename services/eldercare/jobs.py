"""Eldercare's background jobs, run by its worker processes (`python -m services.eldercare.worker`).

Periodic jobs; three of them once ran only when staff called their endpoints (which remain, for a run by hand in the
caller's area). Here each acts for the whole city and is safe to run again for the same slot: the domain
functions change only what is still due (a hold past its deadline, a visit still scheduled, an account without
the month's allowance), so a job retried or taken over from a dead worker does nothing twice. Each is one
transaction: a run cut short commits nothing and the next attempt starts over.
"""

from __future__ import annotations

import datetime as dt

from services.eldercare.beds.models import Institution
from services.eldercare.beds.waitlist import settle_waitlist
from services.eldercare.database import JOBS, PII_READS, SPREADSHEETS
from services.eldercare.elders.models import Elder
from services.eldercare.homecare.models import Provider
from services.eldercare.homecare.service import mark_missed
from services.eldercare.meals.models import Canteen
from services.eldercare.notices import outbox
from services.eldercare.scopes import MEAL_STATEMENTS_WRITE, SUBSIDIES_WRITE, VISITS_OPERATE
from services.eldercare.settings import EldercareSettings
from services.eldercare.settlements.service import previous_month, produce_month
from services.eldercare.spreadsheets import EXPORTERS, IMPORTERS
from services.eldercare.subsidies.service import grant_month
from shared import clock
from shared.addresses import AddressTable, register_standardise_task
from shared.identity import system_principal
from shared.jobs import Every, JobContext, Monthly, Tasks
from shared.spreadsheet_transfers import Spreadsheets

tasks = Tasks(JOBS)
# Spreadsheet imports and exports: the tasks `spreadsheets.import` and `spreadsheets.export`.
spreadsheets = Spreadsheets(SPREADSHEETS, tasks, pii_reads=PII_READS, importers=IMPORTERS, exporters=EXPORTERS)
tasks.include(outbox.tasks)  # notifications: fan-out and sending (shared/notifications.py)


# An offer's deadline is hours away (bed_offer_hours): every 5 minutes, a lapsed offer waits at most that long to
# pass to the next person, and a run with nothing lapsed is two indexed reads.
@tasks.task("waitlist.settle", schedule=Every(5))
async def settle(ctx: JobContext) -> dict:
    """Lapse the offers past their deadline and offer the freed beds to the next people waiting."""
    # Read at each run, as the API process reads it: the worker runs with the service's environment.
    offer_hours = EldercareSettings().bed_offer_hours
    async with ctx.database.sessionmaker() as session, session.begin():
        return await settle_waitlist(session, offer_hours=offer_hours)


# A visit becomes missed 30 minutes after its start: every 5 minutes, it is marked within 35.
@tasks.task("visits.mark_missed", schedule=Every(5))
async def missed(ctx: JobContext) -> dict:
    """Visits with no check-in 30 minutes after their start become missed, across the city."""
    async with ctx.database.sessionmaker() as session, session.begin():
        marked = await mark_missed(session, system_principal("eldercare", VISITS_OPERATE))
    return {"marked_missed": len(marked)}


# Addresses written while placenames was down, and those the migration to standard addresses marked pending.
# Every table of the service with standard addresses (a test holds the list to the models); importing them here
# also puts them in the worker's change-feed follower (shared/changefeed.address_tables).
ADDRESS_TABLES = [
    AddressTable(Elder, "elders"),
    AddressTable(Canteen, "canteens"),
    AddressTable(Institution, "institutions"),
    AddressTable(Provider, "providers"),
]
register_standardise_task(tasks, EldercareSettings, ADDRESS_TABLES)


@tasks.task("subsidies.grant_month", schedule=Monthly(1, dt.time(0, 30)))
async def grant(ctx: JobContext) -> dict:
    """Credit every account in the city with the allowance of the month the slot falls in."""
    month = dt.datetime.fromisoformat(ctx.args["slot"]).astimezone(clock.SHANGHAI).strftime("%Y-%m")
    async with ctx.database.sessionmaker() as session, session.begin():
        report = await grant_month(session, system_principal("eldercare", SUBSIDIES_WRITE), month)
    return report.model_dump()


# At 01:00 on the 1st the month before is over: every order's cut-off has passed, so its statement is whole.
@tasks.task("meal_statements.produce", schedule=Monthly(1, dt.time(1, 0)))
async def meal_statements(ctx: JobContext) -> dict:
    """Produce every canteen's settlement statement of the month before the slot (approved ones stay as they are);
    idempotent, so a retried run changes nothing that is already up to date."""
    month = previous_month(dt.datetime.fromisoformat(ctx.args["slot"]).astimezone(clock.SHANGHAI).date())
    async with ctx.database.sessionmaker() as session, session.begin():
        report = await produce_month(session, system_principal("eldercare", MEAL_STATEMENTS_WRITE), month)
    return {"month": month, **report}
