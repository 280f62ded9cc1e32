"""A worker process (`python -m services.<name>.worker`, shared/worker.py) runs at the lower CPU priority that
WORKER_NICENESS asks for, in every one of its threads, and so does its session's autogroup when it leads a session
of its own, as the kernel reads them (/proc) while it serves its loop."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared import migrations
from shared.settings import ROOT, ServiceSettings

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")


def niceness_of_threads(pid: int) -> set[int]:
    """The niceness of each thread of the process (Linux keeps one per thread): field 19 of its stat line."""
    values = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        # The command name, in parentheses, may hold spaces: the fields are counted after it.
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        values.add(int(fields[16]))
    return values


def autogroup_niceness(pid: int) -> int | None:
    """The niceness of the process's autogroup ("/autogroup-197 nice 0"), None without autogroups: the file is
    absent in a kernel without them, and empty for a process in a CPU cgroup of its own (as CI's containers are),
    where the kernel does not group by session."""
    try:
        words = Path(f"/proc/{pid}/autogroup").read_text().split()
    except OSError:
        return None
    return int(words[-1]) if words else None


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('worker-niceness') / 'placenames.db'}"
    migrations.upgrade("placenames", url)
    return url


@pytest.mark.parametrize(("asked", "own_session"), [(None, True), ("0", True), ("7", True), ("7", False)], ids=str)
def test_a_worker_runs_at_the_niceness_asked_for(database_url, tmp_path, asked, own_session):
    heartbeat = tmp_path / "heartbeat"
    env = {k: v for k, v in os.environ.items() if k != "WORKER_NICENESS"} | {
        "ENV": "test",
        "PLACENAMES_DATABASE_URL": database_url,
        "WORKER_HEARTBEAT_FILE": str(heartbeat),
    }
    if asked is not None:
        env["WORKER_NICENESS"] = asked
    process = subprocess.Popen(
        [sys.executable, "-m", "services.placenames.worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=own_session,  # as ./dev up starts it; or in this test's session
    )
    try:
        deadline = time.monotonic() + 60
        while not heartbeat.exists():  # in its loop: it has read its settings and made its threads
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        default = ServiceSettings.model_fields["worker_niceness"].default
        lower_by = default if asked is None else int(asked)
        assert niceness_of_threads(process.pid) == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + lower_by)}
        ours = autogroup_niceness(os.getpid())
        if ours is not None:
            # Its own session's weight lowered as much; a session it shares is left as it was (ours).
            assert autogroup_niceness(process.pid) == (lower_by if own_session else ours)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
