from sqlalchemy.orm import DeclarativeBase

from shared.changefeed import feed_cursors_table
from shared.db import new_metadata
from shared.idempotency import idempotency_table
from shared.jobs import jobs_table
from shared.notifications import outbox_tables
from shared.pii import blind_index
from shared.pii_reads import pii_reads_table
from shared.spreadsheet_transfers import spreadsheets_table


class Base(DeclarativeBase):
    metadata = new_metadata()


IDEMPOTENCY_KEYS = idempotency_table(Base.metadata)
JOBS = jobs_table(Base.metadata)  # the queue of its worker processes (shared/jobs.py)
FEED_CURSORS = feed_cursors_table(Base.metadata)  # its place in placenames' change feed (shared/changefeed.py)
# The audit of clear reads (a member's ID number, on request with a purpose) and of status lookups by ID
# number (which programmes a person receives), append-only by trigger (migration 8c1e4b7f2a90).
PII_READS = pii_reads_table(Base.metadata)
SPREADSHEETS = spreadsheets_table(Base.metadata)  # spreadsheet imports and exports (shared/spreadsheet_transfers.py)

ID_NUMBER_INDEX = "assistance.id_number"


def id_number_index(id_number: str) -> str:
    """The blind index of a (validated, upper-case) ID number: equal numbers, equal indexes, in every table
    (services/assistance/pii.py says why)."""
    return blind_index(ID_NUMBER_INDEX, id_number)


# The notification outbox (shared/notifications.py; services/assistance/notices.py says who is told what).
NOTIFICATIONS, NOTIFICATION_DELIVERIES = outbox_tables(Base.metadata)
