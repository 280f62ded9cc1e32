"""The peer client against a real tiny HTTP server on loopback: deadlines, the one retry, the breaker."""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.peer import CircuitBreaker, PeerClient, PeerRejected, PeerUnavailable
from tests.shared.loopback import free_port, serve_in_background


class Peer:
    """What the server saw, and what it should do next."""

    def __init__(self):
        self.calls: dict[str, int] = {}
        self.failures_before_ok = 0
        self.last_headers: dict[str, str] = {}
        self.last_body = None

    def app(self) -> Starlette:
        async def handle(request: Request):
            name = request.path_params["name"]
            self.calls[name] = self.calls.get(name, 0) + 1
            self.last_headers = dict(request.headers)
            self.last_body = await request.json() if request.method == "POST" else None
            if name == "slow":
                await asyncio.sleep(1.0)
            if name == "slow-error-then-slow-ok":
                await asyncio.sleep(0.6)
                if self.calls[name] == 1:
                    return JSONResponse({"detail": "busy"}, 502)
            if name == "error":
                return JSONResponse({"detail": "boom"}, 503)
            if name == "reject":
                return JSONResponse({"detail": "no"}, 404)
            if name == "flaky" and self.calls[name] <= self.failures_before_ok:
                return JSONResponse({"detail": "busy"}, 502)
            return JSONResponse({"ok": True, "name": name})

        return Starlette(routes=[Route("/{name}", handle, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
async def peer_server():
    peer = Peer()
    port = free_port()
    server, task = await serve_in_background(peer.app(), port)
    yield peer, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def peer(peer_server):
    state, url = peer_server
    state.calls.clear()
    state.failures_before_ok = 0
    return state, url


async def test_answer_is_returned_with_token_and_body(peer):
    state, url = peer
    client = PeerClient("test", url, token_provider=lambda: "svc-token")
    try:
        body = await client.post_json("/ok", {"id_number": "330203194503150022"})
    finally:
        await client.aclose()
    assert body == {"ok": True, "name": "ok"}
    assert state.last_headers["authorization"] == "Bearer svc-token"
    assert state.last_body == {"id_number": "330203194503150022"}


async def test_an_async_token_provider_is_awaited(peer):
    state, url = peer

    async def token():
        return "async-token"

    client = PeerClient("test", url, token_provider=token)
    try:
        await client.get_json("/ok")
    finally:
        await client.aclose()
    assert state.last_headers["authorization"] == "Bearer async-token"


async def test_a_slow_peer_costs_the_caller_one_deadline_not_one_per_attempt(peer):
    state, url = peer
    client = PeerClient("test", url, timeout_s=0.3)
    started = time.perf_counter()
    try:
        with pytest.raises(PeerUnavailable, match="300 ms"):
            await client.post_json("/slow", {})
    finally:
        await client.aclose()
    assert state.calls["slow"] == 1  # the first try used the whole budget: nothing was left for a retry
    assert time.perf_counter() - started < 0.9  # the peer takes 1 s: the caller did not wait for it


async def test_a_retry_gets_only_what_the_first_attempt_left(peer):
    # 1 s in all: the first answer (a 502) comes after 0.6 s, so the retry, which would need another 0.6 s,
    # runs out of time. With a fresh second in each attempt it would have succeeded, 1.2 s after the call.
    state, url = peer
    client = PeerClient("test", url, timeout_s=1.0)
    try:
        with pytest.raises(PeerUnavailable, match="1000 ms"):
            await client.post_json("/slow-error-then-slow-ok", {})
    finally:
        await client.aclose()
    assert state.calls["slow-error-then-slow-ok"] == 2


class DeadlinesSeen(PeerClient):
    """The peer client, noting the deadline each attempt was given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadlines: list[float] = []

    async def _attempt(self, method, path, json, headers, deadline):
        self.deadlines.append(deadline)
        return await super()._attempt(method, path, json, headers, deadline)


async def test_every_attempt_of_a_call_shares_one_deadline_set_when_the_call_starts(peer):
    state, url = peer
    client = DeadlinesSeen("test", url, timeout_s=0.3)
    loop = asyncio.get_running_loop()
    try:
        before = loop.time()
        with pytest.raises(PeerUnavailable, match="HTTP 503"):
            await client.post_json("/error", {})
        after = loop.time()
    finally:
        await client.aclose()
    assert state.calls["error"] == 2
    [first, retry] = client.deadlines
    assert first == retry  # the retry had no budget of its own
    assert before + 0.3 <= first <= after + 0.3


async def test_5xx_is_retried_once_and_a_second_success_counts(peer):
    state, url = peer
    state.failures_before_ok = 1
    client = PeerClient("test", url)
    try:
        assert (await client.post_json("/flaky", {}))["ok"] is True
    finally:
        await client.aclose()
    assert state.calls["flaky"] == 2


async def test_non_idempotent_calls_are_not_retried(peer):
    state, url = peer
    client = PeerClient("test", url)
    try:
        with pytest.raises(PeerUnavailable, match="HTTP 503"):
            await client.post_json("/error", {}, idempotent=False)
    finally:
        await client.aclose()
    assert state.calls["error"] == 1


async def test_4xx_is_a_rejection_not_an_outage(peer):
    state, url = peer
    client = PeerClient("test", url, breaker=CircuitBreaker(failure_threshold=1))
    try:
        with pytest.raises(PeerRejected) as raised:
            await client.get_json("/reject")
        assert raised.value.status_code == 404
        assert state.calls["reject"] == 1
        assert client.breaker.state == "closed"
    finally:
        await client.aclose()


async def test_a_closed_port_is_unavailable():
    client = PeerClient("test", f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(PeerUnavailable, match="connection failed"):
            await client.get_json("/anything")
    finally:
        await client.aclose()


async def test_the_breaker_opens_fails_fast_then_lets_one_trial_through(peer):
    state, url = peer
    now = [1000.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=lambda: now[0])
    client = PeerClient("test", url, breaker=breaker)
    try:
        for _ in range(2):
            with pytest.raises(PeerUnavailable):
                await client.post_json("/error", {})
        assert breaker.state == "open" and state.calls["error"] == 4
        # Open: no request reaches the peer, and the caller is told at once.
        started = time.perf_counter()
        with pytest.raises(PeerUnavailable, match="circuit open"):
            await client.post_json("/ok", {})
        assert time.perf_counter() - started < 0.05 and "ok" not in state.calls
        # After the pause one trial goes through; while it runs, others still fail fast.
        now[0] += 30
        assert breaker.state == "half_open"
        assert breaker.allow() is True and breaker.allow() is False
        breaker.record_failure()  # that trial failed: open again for another pause
        assert breaker.state == "open"
        now[0] += 30
        assert (await client.post_json("/ok", {}))["ok"] is True
        assert breaker.state == "closed"
    finally:
        await client.aclose()
