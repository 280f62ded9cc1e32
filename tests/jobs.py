"""Run a service's jobs in the test process, as its worker process would (shared/jobs.py)."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from shared.jobs import Tasks, Worker


async def run_jobs(
    app: FastAPI, tasks: Tasks, *, lease: dt.timedelta = dt.timedelta(minutes=10)
) -> list[tuple[str, str]]:
    """Enqueue what is due on the schedules, then run every job that is due: (task, final status) of each."""
    return await Worker(app.state.database, tasks, name="test-worker", lease=lease).run_until_idle()
