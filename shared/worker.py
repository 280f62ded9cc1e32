"""A service's worker process: `python -m services.<name>.worker [--once]` runs its jobs (shared/jobs.py).

It runs the due schedules and claims jobs until SIGTERM or SIGINT, then finishes the job in hand and exits;
a job cut short by a harder stop is resumed by another worker when its lease runs out.

A worker serves no HTTP: it touches WORKER_HEARTBEAT_FILE at each turn of its loop, and its liveness
probe (`deploy/entrypoint.sh probe-worker`) checks that the file is fresh. While a long job runs, each
renewal of its lease touches it too; a job that blocks the event loop stops both, which is what the probe
is there to catch.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from shared.changefeed import Follower
from shared.db import Database
from shared.jobs import Tasks, Worker
from shared.logs import configure_logging
from shared.peer import PeerRejected, PeerUnavailable
from shared.settings import ServiceSettings

# A service that stores addresses follows placenames' change feed in its worker (shared/changefeed.py).
FollowerFactory = Callable[[ServiceSettings, Database], Follower]


async def _serve(settings: ServiceSettings, tasks: Tasks, *, once: bool, follow: FollowerFactory | None) -> None:
    # One job at a time, but a screening's job keeps four chunks in flight, each in a transaction of its own
    # (services/assistance/discovery/runner.py), beside its claims, its lease renewals and the change-feed follower:
    # with 4 connections its chunks queued for the pool and a 200,000-household screening took 16.4 s instead of 9.4.
    database = Database(settings.database_url, pool_size=8)
    worker = Worker(database, tasks, name=f"{settings.service_name}@{socket.gethostname()}:{os.getpid()}")
    follower = follow(settings, database) if follow is not None else None
    try:
        if once:
            for task, status in await worker.run_until_idle():
                logging.getLogger("jobs").info("%s: %s", task, status)
            if follower is not None:
                try:
                    logging.getLogger("shared.changefeed").info("changes applied: %s", await follower.catch_up())
                except (PeerUnavailable, PeerRejected) as error:
                    logging.getLogger("shared.changefeed").warning("the change feed cannot be read: %s", error)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        heartbeat = Path(os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/worker-heartbeat"))
        # The follower beside the job loop, in the same process: changes reach stored addresses within seconds,
        # with no job per page; SIGTERM stops both (a page cut short commits nothing and is read again).
        await asyncio.gather(worker.run(stop, alive=heartbeat.touch), *([follower.run(stop)] if follower else []))
    finally:
        if follower is not None:
            await follower.aclose()
        await database.dispose()


def main(settings: ServiceSettings, tasks: Tasks, *, follow: FollowerFactory | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"The {settings.service_name} worker: runs its jobs and schedules")
    parser.add_argument("--once", action="store_true", help="run what is due, then exit")
    arguments = parser.parse_args()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    asyncio.run(_serve(settings, tasks, once=arguments.once, follow=follow))
