"""The real suite: four services and the gateway as processes on free loopback ports, SQLite in a temp dir."""

from __future__ import annotations

import json
import socket

import pytest

from services import SERVICES
from tools.devserver import Suite


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def suite_env(tmp_path) -> dict[str, str]:
    ports = free_ports(len(SERVICES) + 1)
    generous = {kind: "1000/2000" for kind in ("anonymous", "resident", "staff", "partner", "service", "sign-in")}
    env = {"ENV": "dev", "GATEWAY_PORT": str(ports[-1]), "LOG_LEVEL": "INFO",
           # These tests load the suite on purpose; the limits have tests of their own.
           "GATEWAY_RATE_LIMITS": json.dumps(generous),
           "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway'}.db"}
    for port, name in zip(ports, SERVICES):
        env[f"{name.upper()}_PORT"] = str(port)
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    return env


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("suite")
    suite = Suite(suite_env(tmp), log_dir=tmp / "log")
    suite.prepare()
    suite.start_all()
    try:
        suite.wait_ready()
        yield suite
    finally:
        suite.stop_all()
