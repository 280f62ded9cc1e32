"""Schemathesis through the gateway, on the suite as operators run it: every operation of every service.

The four services and the gateway run as real processes on loopback, on PostgreSQL when TEST_POSTGRES_URL is
set (as in CI; SQLite otherwise), migrated and loaded with the demo data. Schemathesis reads the gateway's
merged OpenAPI and runs its examples, fuzzing and stateful phases: the stateful phase follows the links it
infers between operations (create, then read, update and delete what was created). It runs once as city
staff and once as a resident, with the checks the API promises:

- no server error, whatever is sent;
- every status code and content type is one the OpenAPI documents for that operation;
- every answer matches its documented schema;
- data that breaks the schema is refused with a 4xx.

`FUZZ_EXAMPLES` sets the examples per operation (default 8), `FUZZ_SCENARIOS` the stateful scenarios
(default 120) and `FUZZ_SEED` the seed, so a failure in CI replays exactly; raise them, or change the seed,
for a deeper run. The report of the last run, with a curl command per failure, is left in
`test-artifacts/schemathesis-<principal>/`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services import SERVICES
from shared.settings import ROOT
from tests.conftest import POSTGRES_URL, _postgres_admin, database_prefix
from tests.e2e.conftest import suite_env
from tools.devserver import Suite

pytestmark = pytest.mark.e2e

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "8")
SEED = os.environ.get("FUZZ_SEED", "20261206")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
    "negative_data_rejection"
)
PROCESSES = [*SERVICES, "gateway"]
SCENARIOS = os.environ.get("FUZZ_SCENARIOS", "120")

# The stateful phase chains operations along the links schemathesis infers from the OpenAPI (an id that one
# answer returns and another operation takes): create, then read, change or delete what was created. A chain
# goes on only after a create that succeeded, so its steps send valid data; invalid data is the fuzzing
# phase's. Its scenarios are counted apart from the examples per operation of the other two phases.
CONFIG = f"""
[phases.examples.generation]
max-examples = {int(EXAMPLES)}
[phases.fuzzing.generation]
max-examples = {int(EXAMPLES)}
[phases.stateful]
max-steps = 20
[phases.stateful.generation]
mode = "positive"
max-examples = {int(SCENARIOS)}
"""


def _fresh_postgres_databases(prefix: str) -> dict[str, str]:
    """One new, empty PostgreSQL database per process: these processes migrate and seed their own."""
    for name in PROCESSES:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{prefix}{name}" WITH (FORCE)'))
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{prefix}{name}"'))
    return {name: f"{POSTGRES_URL}/{prefix}{name}" for name in PROCESSES}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-suite")
    env = suite_env(tmp)
    if POSTGRES_URL:
        prefix = database_prefix() + "fuzz_"
        for name, url in _fresh_postgres_databases(prefix).items():
            env[f"{name.upper()}_DATABASE_URL"] = url
    # Ready means placenames has warmed its parse worker up (PLACENAMES_PARSE_WARM_UP, on in these processes): the
    # first batch schemathesis sends no longer starts it within the gateway's 10 s deadline.
    with Suite(env, log_dir=tmp / "log").running() as suite:
        yield suite


def _token(suite: Suite, principal: str) -> str:
    answer = httpx.post(f"{suite.url()}/api/auth/v1/dev-tokens", json={"principal": principal}, timeout=10)
    answer.raise_for_status()
    return answer.json()["access_token"]


@pytest.mark.parametrize("principal", ["staff-city", "resident"])
def test_every_operation_through_the_gateway_as_documented(suite, principal):
    """No server error, no undocumented status or content type, every answer in its schema, bad data refused."""
    reports = ROOT / "test-artifacts" / f"schemathesis-{principal}"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "schemathesis.toml").write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(reports / "schemathesis.toml"),
        "run",
        f"{suite.url()}/openapi.json",
        "--header",
        f"Authorization: Bearer {_token(suite, principal)}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,fuzzing,stateful",
        "--seed",
        SEED,
        "--workers",
        "1",
        "--continue-on-failure",
        "--no-color",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(reports),
    ]
    # One worker: Python 3.11's ast module is not thread-safe, and schemathesis describes strategies with it
    # ("AST constructor recursion depth mismatch", CPython gh-106905).
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=ROOT)
    output = run.stdout + run.stderr
    (reports / "output.txt").write_text(output)
    tested = [line for line in output.splitlines() if "Tested:" in line]
    assert tested, f"schemathesis did not run:\n{output[-5000:]}"
    failures = output.split("FAILURES", 1)[-1] if "FAILURES" in output else output
    assert run.returncode == 0, f"schemathesis found failures as {principal}:\n{failures[:20000]}"
