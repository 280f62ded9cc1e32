"""`python -m services.assistance.worker [--once]`: runs the assistance jobs (services/assistance/jobs.py)."""

from services.assistance.jobs import tasks
from services.assistance.settings import AssistanceSettings
from shared.worker import main

if __name__ == "__main__":
    main(AssistanceSettings(), tasks)
