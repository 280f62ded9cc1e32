"""Eldercare's worker process: `python -m services.eldercare.worker [--once]` runs its jobs (jobs.py)."""

from services.eldercare.jobs import tasks
from services.eldercare.settings import EldercareSettings
from shared.worker import main

if __name__ == "__main__":
    main(EldercareSettings(), tasks)
