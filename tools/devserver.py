"""Run the whole suite on one machine: migrate, load demo data, start four services, their workers and the gateway.

`./dev up` uses this; so do the end-to-end tests, with their own ports and databases. Every process
it starts is stopped when it stops (Ctrl-C, SIGTERM, or the end of a test session).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.seed import DEMO_PASSWORD
from services import SERVICES
from shared.settings import ROOT

GATEWAY_PORT = 8000
# Each service's worker runs its jobs and schedules (shared/jobs.py); the API processes only enqueue.
WORKERS = [f"{name}-worker" for name in SERVICES]
PROCESSES = [*SERVICES, *WORKERS, "gateway"]


def module_of(name: str) -> str:
    if name.endswith("-worker"):
        return f"services.{name.removesuffix('-worker')}.worker"
    return "gateway" if name == "gateway" else f"services.{name}"


class Suite:
    def __init__(self, env: dict[str, str] | None = None, log_dir: Path = ROOT / "var" / "log"):
        self.env = {**os.environ, **(env or {})}
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}

    def port(self, name: str) -> int:
        default = GATEWAY_PORT if name == "gateway" else SERVICES[name]
        return int(self.env.get(f"{name.upper()}_PORT", default))

    def url(self, name: str = "gateway") -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "services.manage", *args], env=self.env, cwd=ROOT, check=True)

    def prepare(self) -> None:
        """Migrate every database and load the demo data (both safe to repeat), unless nothing changed.

        Skipping matters: importing every service for the preparation costs more than the rest of a start.
        """
        marker = self.log_dir.parent / ".prepared"
        if marker.exists() and marker.read_text() == self._preparation_stamp():
            return
        self.manage("prepare")  # one process: importing the libraries is most of the cost
        marker.parent.mkdir(parents=True, exist_ok=True)
        # Taken after the preparation, which creates the SQLite files the stamp looks for: taken before, the
        # next start would find them "present" where the stamp says "missing" and prepare all over again.
        marker.write_text(self._preparation_stamp())

    def _preparation_stamp(self) -> str:
        """What the preparation depends on: migrations, seeds and their data, and which databases."""
        digest = hashlib.sha256()
        for pattern in (
            "services/*/migrations/versions/*.py",
            "gateway/migrations/versions/*.py",
            "services/*/seed.py",
            "gateway/seed.py",
            "services/*/data/*",
        ):
            for path in sorted(ROOT.glob(pattern)):
                digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
        for name in [*SERVICES, "gateway"]:
            url = self.env.get(f"{name.upper()}_DATABASE_URL", "")
            digest.update(url.encode())
            database = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else ROOT / "var" / f"{name}.db"
            if url.startswith("sqlite") or not url:
                digest.update(b"present" if database.exists() else b"missing")
        return digest.hexdigest()

    def start(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.env | ({"WORKER_HEARTBEAT_FILE": str(self.log_dir / f"{name}.heartbeat")} if name in WORKERS else {})
        with open(self.log_path(name), "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", module_of(name)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def start_all(self) -> None:
        for name in PROCESSES:
            self.start(name)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    @contextmanager
    def running(self) -> Iterator[Suite]:
        """Prepared, started and ready; stopped on the way out, whatever happens (the tests' fixtures)."""
        self.prepare()
        self.start_all()
        try:
            self.wait_ready()
            yield self
        finally:
            self.stop_all()

    def get(self, path: str, name: str = "gateway", timeout: float = 2) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url(name) + path, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def wait_ready(self, name: str = "gateway", timeout: float = 120) -> dict:
        """Wait until `name`'s /readyz says ready (for the gateway: all four services ready behind it).

        Placenames is ready only once its parse worker is warmed up (services/placenames/parsing/pool.py), which
        took more than 10 s on a busy 2-core machine: hence the generous default, which costs nothing when ready."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for process_name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{process_name} exited with {process.returncode}; see {self.log_path(process_name)}"
                    )
            try:
                status, body = self.get("/readyz", name)
                if status == 200 and body.get("status") == "ready":
                    return body
                last = body
            except (OSError, ValueError) as error:
                last = error
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout} s: {last}")


BANNER = """
宁波市民政 service suite is up.

  gateway       {gateway}        (API docs: {gateway}/docs, readiness: {gateway}/readyz)
{services}
  workers       {workers} (jobs and schedules: docs/jobs.md)
  logs          {logs}/<name>.log (JSON lines, one per request, with the request id)

Demo staff sign-in (dev only): yinzhou-demo (鄞州区), baizhang-demo (百丈街道), city-demo (宁波市), auditor-demo,
all with the password {password}:
  curl -s -X POST {gateway}/api/auth/v1/staff-sign-ins -H 'content-type: application/json' \\
    -d '{{"username": "city-demo", "password": "{password}"}}'

Demo tokens (dev only): a bearer token for a demo principal, then call any service through the gateway:
  curl -s -X POST {gateway}/api/auth/v1/dev-tokens -H 'content-type: application/json' \\
    -d '{{"principal": "staff-yinzhou"}}'
  principals: resident (家属 of two demo elders), staff-yinzhou (鄞州区 330212), staff-city (宁波市 330200), partner
  curl -s {gateway}/api/eldercare/v1/elders -H "Authorization: Bearer <access_token>"

Ctrl-C stops everything.
"""


def main() -> None:
    suite = Suite()
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.prepare()
        suite.start_all()
        suite.wait_ready()
        services = "\n".join(f"  {name:<13} {suite.url(name)}" for name in SERVICES)
        print(
            BANNER.format(
                gateway=suite.url(),
                services=services,
                workers=", ".join(WORKERS),
                logs=suite.log_dir,
                password=DEMO_PASSWORD,
            ),
            flush=True,
        )
        while stopping["signal"] is None:
            for name, process in list(suite.processes.items()):
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {suite.log_path(name)}", flush=True)
                    suite.processes.pop(name)
            time.sleep(0.5)
    finally:
        print("stopping…", flush=True)
        suite.stop_all()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
