"""The charity worker process: `python -m services.charity.worker [--once]` runs its jobs and follows placenames' change feed."""

from services.charity.database import FEED_CURSORS, Base
from services.charity.jobs import tasks
from services.charity.settings import CharitySettings
from shared.changefeed import following
from shared.worker import main

if __name__ == "__main__":
    # Its jobs, and placenames' change feed into its stored addresses (docs/changes.md).
    main(CharitySettings(), tasks, follow=following(Base, FEED_CURSORS))
