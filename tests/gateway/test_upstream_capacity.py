"""A burst beyond the pool is queued or refused as busy, never timed out as if the service were slow; a
service that does not answer within its route's deadline opens the breaker. Real servers on loopback."""

import asyncio
import socket
import struct

import pytest
from pydantic import ValidationError

from gateway.proxy import UPSTREAM_ERRORS
from gateway.settings import GatewaySettings
from tests.conftest import service_database
from tests.gateway.conftest import gateway_client
from tests.shared.loopback import free_port, serve_in_background

PATH = "/api/placenames/v1/divisions/330200"


class SlowService:
    """Answers every request after a pause, and counts what it received: what the gateway really sent."""

    def __init__(self, pause_s: float):
        self.pause_s = pause_s
        self.received = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.received += 1
        await asyncio.sleep(self.pause_s)  # holds the gateway's connection, so a burst fills the pool
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def slow_service():
    service = SlowService(pause_s=1.5)
    port = free_port()
    server, task = await serve_in_background(service, port)
    service.url = f"http://127.0.0.1:{port}"
    yield service
    server.should_exit = True
    await task


async def burst(db_dir, slow_service, *, pool: int, queue: int, requests: int):
    database = await service_database("gateway", "sqlite", db_dir)
    # The connect deadline (1 s) is shorter than the service's pause: were waiting for a pooled connection
    # timed like a connect, the queued requests would all be 504s.
    async for gateway in gateway_client(
        database,
        upstream_placenames=slow_service.url,
        upstream_pool_size=pool,
        upstream_queue_size=queue,
        upstream_connect_timeout_s=1.0,
    ):
        responses = await asyncio.gather(*(gateway.get(PATH) for _ in range(requests)))
        after = await gateway.get(PATH)
        return responses, after, gateway.app.upstreams["placenames"].breaker.state


async def test_a_burst_larger_than_the_pool_waits_in_the_queue_and_is_served(db_dir, slow_service):
    responses, after, breaker = await burst(db_dir, slow_service, pool=4, queue=8, requests=12)
    assert [r.status_code for r in responses] == [200] * 12
    assert slow_service.received == 13 and after.status_code == 200 and breaker == "closed"


async def test_a_burst_beyond_the_queue_is_refused_as_busy_without_reaching_the_service(db_dir, slow_service):
    busy_before = UPSTREAM_ERRORS.counts.get(("placenames", "busy"), 0)
    responses, after, breaker = await burst(db_dir, slow_service, pool=4, queue=4, requests=20)
    served = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(served) >= 8 and refused, [r.status_code for r in responses]  # the pool and the queue are served
    for response in refused:
        problem = response.json()
        assert response.status_code == 503 and response.headers["content-type"] == "application/problem+json"
        assert problem["type"] == "/problems/busy" and problem["service"] == "placenames"
        assert int(response.headers["retry-after"]) >= 1
    # Every request was either sent and answered, or refused before it was sent: none is a 504.
    assert slow_service.received == len(served) + 1
    assert UPSTREAM_ERRORS.counts.get(("placenames", "busy"), 0) - busy_before == len(refused)
    # Busy is the gateway's own limit, not a failing service: the breaker stays closed, the next one served.
    assert breaker == "closed" and after.status_code == 200


async def test_a_hanging_service_times_out_at_its_routes_deadline_and_opens_the_breaker(db_dir, black_hole):
    database = await service_database("gateway", "sqlite", db_dir)
    timeouts = lambda: UPSTREAM_ERRORS.counts.get(("assistance", "timeout"), 0)  # noqa: E731
    before = timeouts()
    async for gateway in gateway_client(
        database,
        upstream_assistance=black_hole,
        upstream_read_timeout_s=5,
        upstream_read_timeouts={"/api/assistance/v1/": 0.3},
        upstream_breaker_failures=3,
        upstream_breaker_pause_s=600,
    ):
        hung = await asyncio.gather(*(gateway.get("/api/assistance/v1/policies") for _ in range(3)))
        for response in hung:
            assert response.status_code == 504 and response.json()["type"] == "/problems/gateway-timeout"
            assert "within 0.3 s" in response.json()["detail"]
        assert timeouts() - before == 3 and gateway.app.upstreams["assistance"].breaker.state == "open"
        refused = await gateway.get("/api/assistance/v1/policies")
        assert refused.status_code == 503 and refused.json()["type"] == "/problems/service-unavailable"
        assert refused.headers["retry-after"] and timeouts() - before == 3  # answered without calling it


def test_read_deadlines_name_a_service_or_one_of_its_paths():
    settings = GatewaySettings(upstream_read_timeouts={"charity": 3, "/api/placenames/v1/batches": 60})
    assert settings.read_deadlines("charity") == (3, {})
    assert settings.read_deadlines("placenames") == (
        settings.upstream_read_timeout_s,
        {"/api/placenames/v1/batches": 60},
    )
    for wrong in ({"/api/nothing/v1": 1}, {"charity": 0}):
        with pytest.raises(ValidationError, match="upstream_read_timeouts"):
            GatewaySettings(upstream_read_timeouts=wrong)


class ClosesFirstRequest:
    """A raw HTTP server that reads the first request and closes the connection without a word, as a service
    closing an idle keep-alive connection while it drains; every later request gets 201. Counts requests."""

    def __init__(self, reset: bool = False):
        self.received, self.reset = 0, reset

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader, writer):
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            self.received += 1
            if self.received == 1:
                if self.reset:  # closed with a linger of 0: the peer gets RST, as when unread data is discarded
                    writer.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                writer.close()
                return
            writer.write(b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
@pytest.mark.parametrize(
    ("headers", "expected", "sent"),
    [({"Idempotency-Key": "order-1"}, 201, 2), ({}, 502, 1)],
    ids=["with-an-idempotency-key", "without"],
)
async def test_a_post_is_sent_again_after_a_dropped_connection_only_with_an_idempotency_key(
    db_dir, headers, expected, sent, reset
):
    """A draining service may close a connection just as the gateway sends on it. A POST with an Idempotency-Key
    goes again (the service answers a repeated key with its first answer); one without is not repeated, since it
    may have been acted on, and the caller gets 502."""
    upstream = ClosesFirstRequest(reset)
    url = await upstream.start()
    database = await service_database("gateway", "sqlite", db_dir)
    async for gateway in gateway_client(database, upstream_placenames=url):
        response = await gateway.post("/api/placenames/v1/parse", json={"text": "x"}, headers=headers)
    upstream.server.close()
    assert response.status_code == expected and upstream.received == sent
