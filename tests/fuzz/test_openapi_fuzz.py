"""Schemathesis against every service's OpenAPI, with valid credentials: generated requests, valid and
invalid, must never get a server error, every answer must match the documented schema, and invalid data
must be refused (4xx).

Each service runs under uvicorn in a thread on loopback, on its own SQLite database, migrated and loaded
with the demo data so that lookups find something. The caller is city-level staff holding every scope
the service declares: the widest view, so the most code runs. `FUZZ_EXAMPLES` sets the examples per
operation (default 6: a few minutes for the four services; raise it for a deeper run).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from gateway.scopes import load_all
from shared.scopes import DECLARED
from services import SERVICES
from shared import migrations
from shared.db import Database
from shared.identity import Principal, mint_assertion
from tests.conftest import settings_for
from tests.shared.loopback import free_port

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]


load_all()


class Served:
    def __init__(self, name: str, url: str, settings):
        self.name, self.url, self.settings = name, url, settings
        self.principal = Principal(subject=f"staff:fuzz-{name}", kind="staff", area="330200", name="fuzz",
                                   scopes=frozenset(s for s in DECLARED if s.startswith(f"{name}.")))

    def headers(self) -> dict[str, str]:
        # Minted per request: an assertion lives 60 s, a run of one service longer.
        return {"X-Identity-Assertion": mint_assertion(self.principal, audience=self.name,
                                                       secret=self.settings.identity_secret)}


async def _prepare(service: str, url: str) -> None:
    await asyncio.to_thread(migrations.upgrade, service, url)
    seed = importlib.import_module(f"services.{service}.seed")
    database = Database(url)
    try:
        async with database.sessionmaker() as session, session.begin():
            await seed.load(session)
    finally:
        await database.dispose()


@pytest.fixture(scope="module", params=SERVICES)
def served(request, tmp_path_factory):
    name = request.param
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / name}.db"
    asyncio.run(_prepare(name, url))
    settings = settings_for(name, url)
    app = importlib.import_module(f"services.{name}.main").create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.05)
    try:
        yield Served(name, f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(30)


def _openapi(served: Served) -> dict:
    return httpx.get(f"{served.url}/api/{served.name}/v1/openapi.json", timeout=30).json()


def test_no_server_error_and_every_answer_as_documented(served):
    """Every operation, with valid and with invalid data; the failures of all operations are reported
    together, each with the request that reproduces it."""
    schema = schemathesis.openapi.from_dict(_openapi(served))
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True, phases=[Phase.explicit, Phase.generate], database=None)
            def run(case):
                case.call_and_validate(base_url=served.url, headers=served.headers(), checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
                pass
            except (Exception, BaseExceptionGroup) as failure:  # collected, then asserted below
                failures.append(f"{operation.label} [{mode.value}]: {str(failure)[:1500]}")
    assert operations > 10
    assert not failures, f"{len(failures)} of {2 * operations} runs failed:\n\n" + "\n\n".join(failures)
