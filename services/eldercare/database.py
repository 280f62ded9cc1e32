from sqlalchemy.orm import DeclarativeBase

from shared.changefeed import feed_cursors_table
from shared.db import new_metadata
from shared.idempotency import idempotency_table
from shared.jobs import jobs_table
from shared.notifications import outbox_tables
from shared.pii_reads import pii_reads_table
from shared.spreadsheet_transfers import spreadsheets_table


class Base(DeclarativeBase):
    metadata = new_metadata()


IDEMPOTENCY_KEYS = idempotency_table(Base.metadata)
PII_READS = pii_reads_table(Base.metadata)
JOBS = jobs_table(Base.metadata)  # the queue of its worker processes (shared/jobs.py)
SPREADSHEETS = spreadsheets_table(Base.metadata)  # spreadsheet imports and exports (shared/spreadsheet_transfers.py)
FEED_CURSORS = feed_cursors_table(Base.metadata)  # its place in placenames' change feed (shared/changefeed.py)
# The notification outbox (shared/notifications.py; services/eldercare/notices.py says who is told what).
NOTIFICATIONS, NOTIFICATION_DELIVERIES = outbox_tables(Base.metadata)
