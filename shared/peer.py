"""Calling another service of the suite: short deadlines, one bounded retry, and a circuit breaker.

A service that needs a peer (eldercare asking assistance whether a person is 低保) must keep working when
the peer is slow or down: every failure surfaces as `PeerUnavailable`, which the caller turns into its
stated fallback. `timeout_s` is the whole call's deadline: a retry (after a quick failure: a refused
connection, a 5xx) only gets what the first attempt left, so a caller waits at most `timeout_s` for its answer
or its fallback, whatever the number of attempts. The breaker stops a dead peer from costing every request
its full deadline: after `failure_threshold` failed calls in a row it opens and calls fail at once; after
`reset_after_s` one trial call is let through (half-open) and its outcome closes or re-opens it.

One `PeerClient` per peer per process (made in the lifespan or lazily), so its connection pool and its
breaker are shared by all requests.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from shared.request_id import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("shared.peer")

TokenProvider = Callable[[], "str | Awaitable[str | None] | None"]


_SSL: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, for every HTTP client made: building one loads the CA bundle, about
    25 ms of CPU on the event loop (httpx builds one for each client not given this)."""
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()
    return _SSL


class PeerUnavailable(Exception):
    """The peer did not give a usable answer: timeout, connection error, 5xx, or the breaker is open."""

    def __init__(self, peer: str, reason: str):
        super().__init__(f"{peer}: {reason}")
        self.peer = peer
        self.reason = reason


class PeerRejected(Exception):
    """The peer answered with a 4xx: the request itself is wrong (or not allowed); retrying will not help."""

    def __init__(self, peer: str, status_code: int, body: str):
        super().__init__(f"{peer}: HTTP {status_code}")
        self.peer = peer
        self.status_code = status_code
        self.body = body


class CircuitBreaker:
    """Closed → (N failures in a row) → open → (after a pause) half-open: one trial → closed or open.

    Plain state, no lock: asyncio runs one coroutine at a time, and the only race (two trials let through
    at the moment the pause ends) is harmless.
    """

    def __init__(
        self, *, failure_threshold: int = 5, reset_after_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.reset_after_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def abandon(self) -> None:
        """A call ended with no verdict on the peer (cancelled): let the next trial go."""
        self._trial_running = False

    def record_failure(self) -> None:
        self._trial_running = False
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()  # (re)open: a failed trial restarts the pause


class PeerClient:
    """JSON over HTTP to one peer (usually the gateway, with the service's own bearer token)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout_s: float = 0.3,
        retries: int = 1,
        token_provider: TokenProvider | None = None,
        breaker: CircuitBreaker | None = None,
        max_connections: int = 100,
    ):
        self.name = name
        self.timeout_s = timeout_s
        self.retries = retries
        self.token_provider = token_provider
        self.breaker = breaker or CircuitBreaker()
        self._base_url = base_url.rstrip("/")
        self._max_connections = max_connections
        self._http: httpx.AsyncClient | None = None  # made on first use: most requests never need the peer

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # The call's deadline is enforced with asyncio.timeout_at; httpx's timeouts are a backstop.
            self._http = httpx.AsyncClient(
                base_url=self._base_url,
                timeout=httpx.Timeout(self.timeout_s),
                verify=tls_context(),
                limits=httpx.Limits(
                    max_connections=self._max_connections, max_keepalive_connections=self._max_connections // 2
                ),
            )
        return self._http

    @property
    def base_url(self) -> str:
        return self._base_url

    async def _headers(self) -> dict[str, str]:
        headers = {"accept": "application/json"}
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id  # one request id across services in the logs
        if self.token_provider is not None:
            token = self.token_provider()
            if inspect.isawaitable(token):
                token = await token
            if token:
                headers["authorization"] = f"Bearer {token}"
        return headers

    async def _attempt(
        self, method: str, path: str, json: Any, headers: dict[str, str], deadline: float
    ) -> httpx.Response:
        """One try, cut off at `deadline` (the event loop's clock): what is left of the call's budget."""
        async with asyncio.timeout_at(deadline):
            return await self._client().request(method, path, json=json, headers=headers)

    async def request_json(self, method: str, path: str, *, json: Any = None, idempotent: bool = True) -> Any:
        """The decoded JSON body of a 2xx answer; PeerRejected on a 4xx; PeerUnavailable otherwise.

        Only idempotent calls are retried (a lookup, even when sent as a POST to keep data out of URLs).
        """
        if not self.breaker.allow():
            raise PeerUnavailable(self.name, "circuit open")
        attempts = 1 + (self.retries if idempotent else 0)
        reason = "no attempt"
        try:
            # The budget is for the peer's answer; getting our own token (cached, with its own timeout) is not
            # counted against it, or the first call after each renewal would fall back.
            headers = await self._headers()
        except PeerUnavailable as exc:  # no token for us: as unavailable as a peer that does not answer
            attempts, reason = 0, f"{exc.peer}: {exc.reason}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s  # one budget for every attempt of this call
        for attempt in range(attempts):
            if attempt:
                pause = random.uniform(0.01, 0.05)  # jitter: retries of many callers spread out
                if loop.time() + pause >= deadline:
                    break  # nothing left for a retry
                await asyncio.sleep(pause)
            try:
                response = await self._attempt(method, path, json, headers, deadline)
            except (TimeoutError, httpx.TimeoutException):
                reason = f"no answer within {self.timeout_s * 1000:.0f} ms"
                continue
            except httpx.TransportError as exc:
                reason = f"connection failed ({type(exc).__name__})"
                continue
            if response.status_code >= 500:
                reason = f"HTTP {response.status_code}"
                continue
            if 400 <= response.status_code < 500:
                # The peer is up and answered: the breaker counts it as alive. A refusal (401/403 above all)
                # means a misconfiguration an operator must see, so it is logged.
                self.breaker.record_success()
                log.warning(
                    "peer refused the call",
                    extra={"fields": {"peer": self.name, "path": path, "status": response.status_code}},
                )
                raise PeerRejected(self.name, response.status_code, response.text[:500])
            if response.status_code >= 300:
                # Redirects are not followed and their bodies are not believed (OWASP API10).
                reason = f"HTTP {response.status_code}"
                continue
            try:
                body = response.json()
            except ValueError:
                reason = "answer is not JSON"
                continue
            self.breaker.record_success()
            return body
        self.breaker.record_failure()
        log.warning(
            "peer unavailable", extra={"fields": {"peer": self.name, "reason": reason, "breaker": self.breaker.state}}
        )
        raise PeerUnavailable(self.name, reason)

    async def post_json(self, path: str, json: Any, *, idempotent: bool = True) -> Any:
        return await self.request_json("POST", path, json=json, idempotent=idempotent)

    async def get_json(self, path: str) -> Any:
        return await self.request_json("GET", path)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
