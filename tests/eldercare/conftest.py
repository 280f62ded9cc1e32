"""A fake assistance service on a real loopback port, for every eldercare test.

It answers `POST /api/assistance/v1/status-lookups` by the contract assistance implements, from a table the
test fills, and can be made slow, failing, or stopped (connection refused). Every eldercare app made in these
tests is pointed at it through ELDERCARE_GATEWAY_URL, as the real service is pointed at the gateway.
"""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared import clock
from shared.idnumbers import mask_id_number
from tests.shared.loopback import free_port, serve_in_background

PEER_TOKEN = "eldercare-service-token-for-tests"


class FakeAssistance:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.programmes: dict[str, list[str]] = {}
        self.mode = "up"  # up | slow | error
        self.requests: list[dict] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    def reset(self):
        self.programmes.clear()
        self.requests.clear()
        self.mode = "up"

    def app(self) -> Starlette:
        async def lookup(request: Request):
            body = await request.json()
            self.requests.append(
                {"url": str(request.url), "body": body, "authorization": request.headers.get("authorization")}
            )
            if self.mode == "slow":
                await asyncio.sleep(1.0)
            if self.mode == "error":
                return JSONResponse({"detail": "database down"}, 503)
            codes = self.programmes.get(body["id_number"], [])
            return JSONResponse(
                {
                    "id_number_masked": mask_id_number(body["id_number"]),
                    "as_of": clock.today().isoformat(),
                    "programmes": [{"code": c, "since": "2021-01-01"} for c in codes],
                }
            )

        return Starlette(routes=[Route("/api/assistance/v1/status-lookups", lookup, methods=["POST"])])

    async def start(self):
        self._server, self._task = await serve_in_background(self.app(), self.port)

    async def stop(self):
        """Down: the port refuses connections."""
        if self._server is not None:
            self._server.should_exit = True
            await self._task
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


@pytest.fixture(scope="session")
async def fake_assistance_server():
    fake = FakeAssistance()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(autouse=True)
def _at_midday(midday):
    """Every eldercare test runs at noon on TEST_DAY (tests/conftest.py), from which its menus, visits, holds and
    ages are dated: whatever the hour, the day of the month or midnight passing, each run sees the same cut-offs."""


@pytest.fixture(autouse=True)
async def assistance(fake_assistance_server, monkeypatch):
    """Runs before the app fixtures (autouse), so the app they make calls the fake."""
    fake = fake_assistance_server
    monkeypatch.setenv("ELDERCARE_GATEWAY_URL", fake.url)
    monkeypatch.setenv("ELDERCARE_PEER_TOKEN", PEER_TOKEN)
    fake.reset()
    if not fake.running:
        await fake.start()
    yield fake
    fake.reset()
    if not fake.running:
        await fake.start()
