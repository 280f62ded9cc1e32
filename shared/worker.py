"""A service's worker process: `python -m services.<name>.worker [--once]` runs its jobs (shared/jobs.py).

It runs the due schedules and claims jobs until SIGTERM or SIGINT, then finishes the job in hand and exits;
a job cut short by a harder stop is resumed by another worker when its lease runs out.

A worker serves no HTTP: it touches WORKER_HEARTBEAT_FILE at each turn of its loop, and its liveness
probe (`deploy/entrypoint.sh probe-worker`) checks that the file is fresh. While a long job runs, each
renewal of its lease touches it too; a job that blocks the event loop stops both, which is what the probe
is there to catch.

A worker runs at a lower CPU priority than the API (WORKER_NICENESS, `lower_priority`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import time
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


def lower_priority(niceness: int) -> None:
    """Raise this process's niceness by `niceness` (0: unchanged), so that on a shared node its batch work yields
    the cores to request handling."""
    if not niceness:
        return
    # Linux keeps a niceness per thread: the threads made later (the database driver's, the event loop's
    # executor) inherit this one's.
    os.nice(niceness)
    # Where the kernel groups processes by session (autogroup, on when the processes share the root CPU cgroup),
    # a niceness weighs only against the threads of the same session, and sessions share the CPU evenly: a
    # worker that leads a session of its own (./dev up and the benches start each process so) lowers its
    # session's weight too, else it would still get as much CPU as the API's session (measured: the threads'
    # niceness alone left the API's latency as it was, docs/benchmarks/assistance.md). One that shares its session
    # leaves the session's weight alone (the others in it would be lowered with it). The kernel takes such a
    # change at most every 100 ms from an unprivileged process: workers starting together try again.
    if os.getsid(0) != os.getpid():
        return
    for _ in range(20):
        try:
            Path("/proc/self/autogroup").write_text(str(niceness))
            return
        except BlockingIOError:
            time.sleep(0.11)
        except OSError:  # no autogroups in this kernel
            return


def main(settings: ServiceSettings, tasks: Tasks, *, follow: FollowerFactory | None = None) -> None:
    lower_priority(settings.worker_niceness)  # first, before any thread exists
    parser = argparse.ArgumentParser(description=f"The {settings.service_name} worker: runs its jobs and schedules")
    parser.add_argument("--once", action="store_true", help="run what is due, then exit")
    arguments = parser.parse_args()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    asyncio.run(_serve(settings, tasks, once=arguments.once, follow=follow))
