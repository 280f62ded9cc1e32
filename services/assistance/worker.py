"""`python -m services.assistance.worker [--once]`: runs the assistance jobs and follows placenames' change feed."""

from services.assistance.database import FEED_CURSORS, Base
from services.assistance.jobs import tasks
from services.assistance.settings import AssistanceSettings
from shared.changefeed import following
from shared.worker import main

if __name__ == "__main__":
    # Its jobs, and placenames' change feed into its stored addresses (docs/changes.md).
    main(AssistanceSettings(), tasks, follow=following(Base, FEED_CURSORS))
