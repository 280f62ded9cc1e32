"""/metrics on real processes: a request made through the gateway is counted at the gateway (by upstream and
status, with its latency) and at the service (by route template), the pool is reported, and an upstream
that cannot be reached is counted as an upstream error."""

from __future__ import annotations

import asyncio
import importlib
import time
import urllib.error
import urllib.request

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services import SERVICES
from shared import migrations
from tests.e2e.conftest import free_ports
from tools.devserver import Suite


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """placenames and the gateway; the other upstreams point at closed ports."""
    tmp = tmp_path_factory.mktemp("metrics")
    ports = dict(zip([*SERVICES, "gateway"], free_ports(len(SERVICES) + 1), strict=False))
    env = {
        "ENV": "dev",
        "GATEWAY_PORT": str(ports["gateway"]),
        "PLACENAMES_PORT": str(ports["placenames"]),
        "PLACENAMES_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'placenames'}.db",
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'gateway'}.db",
    }
    for name in SERVICES:
        env[f"GATEWAY_UPSTREAM_{name.upper()}"] = f"http://127.0.0.1:{ports[name]}"
    suite = Suite(env, log_dir=tmp / "log")
    suite.manage("migrate", "placenames", "gateway")
    suite.start("placenames")
    suite.start("gateway")
    try:
        suite.wait_ready("placenames")
        # Not /readyz: the gateway is not ready while three of its upstreams are down, by design.
        deadline = time.monotonic() + 60
        while not _alive(suite):
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.2)
        yield suite
    finally:
        suite.stop_all()


def _alive(suite: Suite) -> bool:
    try:
        return suite.get("/healthz")[0] == 200
    except OSError:
        return False


def scrape(suite: Suite, name: str) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(suite.url(name) + "/metrics", timeout=5) as response:
        assert response.headers["content-type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def call(suite: Suite, path: str) -> int:
    try:
        with urllib.request.urlopen(suite.url() + path, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.e2e
def test_a_request_through_the_gateway_is_counted_at_the_gateway_and_at_the_service(suite):
    route = "/api/placenames/v1/divisions/{code}"
    gateway_before, service_before = scrape(suite, "gateway"), scrape(suite, "placenames")

    status = call(suite, "/api/placenames/v1/divisions/330200")

    gateway, service = scrape(suite, "gateway"), scrape(suite, "placenames")
    assert (
        value(gateway, "gateway_requests_total", upstream="placenames", status=str(status))
        == value(gateway_before, "gateway_requests_total", upstream="placenames", status=str(status)) + 1
    )
    assert (
        value(gateway, "gateway_request_duration_seconds_count", upstream="placenames")
        == value(gateway_before, "gateway_request_duration_seconds_count", upstream="placenames") + 1
    )
    assert value(gateway, "gateway_request_duration_seconds_bucket", upstream="placenames", le="+Inf") == value(
        gateway, "gateway_request_duration_seconds_count", upstream="placenames"
    )
    labels = {"service": "placenames", "method": "GET", "route": route}
    # The service counts it under its route template: the division code never becomes a label.
    assert (
        value(service, "http_requests_total", **labels, status=str(status))
        == value(service_before, "http_requests_total", **labels, status=str(status)) + 1
    )
    assert (
        value(service, "http_request_duration_seconds_count", **labels)
        == value(service_before, "http_request_duration_seconds_count", **labels) + 1
    )
    assert not [key for key in service if "330200" in str(key)]
    assert ("db_pool_connections_in_use", frozenset({("service", "placenames")})) in service
    assert ("process_resident_memory_bytes", frozenset()) in service


@pytest.mark.e2e
def test_an_unreachable_upstream_is_counted_as_an_upstream_error(suite):
    before = scrape(suite, "gateway")
    assert call(suite, "/api/charity/v1/organizations") == 503
    after = scrape(suite, "gateway")
    assert (
        value(after, "gateway_upstream_errors_total", upstream="charity", kind="unreachable")
        == value(before, "gateway_upstream_errors_total", upstream="charity", kind="unreachable") + 1
    )
    assert (
        value(after, "gateway_requests_total", upstream="charity", status="503")
        == value(before, "gateway_requests_total", upstream="charity", status="503") + 1
    )
    # One failure does not open the gateway's breaker for charity (five in a row do).
    assert value(after, "gateway_circuit_breaker_state", upstream="charity", state="closed") == 1


@pytest.mark.e2e
def test_the_gateways_own_routes_are_counted_too(suite):
    before = scrape(suite, "gateway")
    assert call(suite, "/healthz") == 200
    after = scrape(suite, "gateway")
    labels = {"service": "gateway", "method": "GET", "route": "/healthz", "status": "200"}
    assert value(after, "http_requests_total", **labels) == value(before, "http_requests_total", **labels) + 1
    assert ("db_pool_connections_in_use", frozenset({("service", "gateway")})) in after


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_serves_metrics(service, tmp_path):
    """In process, for each of the four services: /metrics answers in the Prometheus text format with the
    request counters and its own pool (the two real processes above show the rest end to end)."""
    url = f"sqlite+aiosqlite:///{tmp_path / service}.db"
    await asyncio.to_thread(migrations.upgrade, service, url)  # startup work may read its tables
    main = importlib.import_module(f"services.{service}.main")
    settings = importlib.import_module(f"services.{service}.settings")
    app = main.create_app(getattr(settings, f"{service.capitalize()}Settings")(env="test", database_url=url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    labels = {"service": service, "method": "GET", "route": "/healthz", "status": "200"}
    assert value(samples, "http_requests_total", **labels) >= 1
    assert value(samples, "db_pool_connections_in_use", service=service) == 0  # nothing held between requests


async def test_a_peer_breaker_is_reported_closed_then_open(tmp_path):
    """eldercare prices meals through its assistance peer: the breaker's state is on /metrics."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'eldercare'}.db"
    await asyncio.to_thread(migrations.upgrade, "eldercare", url)
    from services.eldercare.main import create_app
    from services.eldercare.settings import EldercareSettings

    app = create_app(EldercareSettings(env="test", database_url=url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):

        def breaker(samples, state):
            return value(samples, "peer_circuit_breaker_state", service="eldercare", peer="assistance", state=state)

        samples = parse((await client.get("/metrics")).text)
        assert breaker(samples, "closed") == 1 and breaker(samples, "open") == 0
        for _ in range(app.state.assistance.breaker.failure_threshold):
            app.state.assistance.breaker.record_failure()
        samples = parse((await client.get("/metrics")).text)
        assert breaker(samples, "open") == 1 and breaker(samples, "closed") == 0


def parse(text: str) -> dict:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
