"""The charity worker process: `python -m services.charity.worker [--once]` runs its jobs (jobs.py)."""

from services.charity.jobs import tasks
from services.charity.settings import CharitySettings
from shared.worker import main

if __name__ == "__main__":
    main(CharitySettings(), tasks)
