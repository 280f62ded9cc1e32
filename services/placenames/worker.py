"""The place names worker process: `python -m services.placenames.worker [--once]` runs its jobs (jobs.py)."""

from services.placenames.jobs import tasks
from services.placenames.settings import PlacenamesSettings
from shared.worker import main

if __name__ == "__main__":
    main(PlacenamesSettings(), tasks)
