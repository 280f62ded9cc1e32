"""A service killed under load: only its own routes fail, and it is served again as soon as it is back."""

import asyncio
import time

import httpx
import pytest

from tests.e2e.test_suite import PROBES, token

pytestmark = pytest.mark.e2e


async def test_a_killed_service_fails_only_its_routes_and_is_served_again_when_back(suite):
    others = ["eldercare", "assistance", "placenames"]
    headers = {s: token(suite, p) if p else {} for s, (_, p) in PROBES.items()}
    outcomes: dict[str, list[int]] = {s: [] for s in PROBES}
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient, service: str):
        path = PROBES[service][0]
        while not stop.is_set():
            try:
                outcomes[service].append((await client.get(path, headers=headers[service])).status_code)
            except httpx.TransportError:
                outcomes[service].append(0)

    async with httpx.AsyncClient(base_url=suite.url(), timeout=10) as client:
        workers = [asyncio.create_task(load(client, s)) for s in [*others, *others, "charity"]]
        await asyncio.sleep(1.0)
        suite.processes["charity"].kill()  # SIGKILL: no goodbye, connections just die
        suite.processes["charity"].wait()
        await asyncio.sleep(1.5)
        during = list(outcomes["charity"])
        suite.start("charity")
        await asyncio.to_thread(suite.wait_ready, "charity", 120)
        back_at = time.monotonic()
        while True:
            response = await client.get(PROBES["charity"][0])
            if response.status_code == 200:
                break
            assert time.monotonic() - back_at < 5, "the gateway did not serve charity within 5 s of it being ready"
            await asyncio.sleep(0.05)
        served_after = time.monotonic() - back_at
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*workers)

    for service in others:
        ok = sum(status == 200 for status in outcomes[service])
        assert ok / len(outcomes[service]) >= 0.999, (service, len(outcomes[service]), ok)
    assert 503 in during and set(during) <= {200, 502, 503}, set(during)  # problems, never a hang or a 500
    print(f"requests: { {s: len(v) for s, v in outcomes.items()} }; charity served {served_after:.2f} s after ready")
