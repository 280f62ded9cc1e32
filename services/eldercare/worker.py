"""Eldercare's worker process: `python -m services.eldercare.worker [--once]` runs its jobs and follows placenames' change feed."""

from services.eldercare.database import FEED_CURSORS, Base
from services.eldercare.jobs import tasks
from services.eldercare.settings import EldercareSettings
from shared.changefeed import following
from shared.worker import main

if __name__ == "__main__":
    # Its jobs, and placenames' change feed into its stored addresses (docs/changes.md).
    main(EldercareSettings(), tasks, follow=following(Base, FEED_CURSORS))
