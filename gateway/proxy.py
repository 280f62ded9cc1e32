"""The gateway's hot path: a raw ASGI reverse proxy, one pooled aiohttp session per upstream.

Written as plain ASGI (no BaseHTTPMiddleware, no FastAPI route per request): every request of the
suite crosses it. Paths are forwarded unchanged; hop-by-hop headers are stripped; any identity header
a client sends is dropped and replaced by the gateway's own signed assertion; responses stream back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Iterable

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.limits import Buckets, Limit, retry_after_header
from gateway.principals import Authenticator, bearer_token
from shared import tracing
from shared.errors import DomainError, TooManyRequests, Unauthorized
from shared.i18n import DEFAULT_LOCALE, LANGUAGE_TAGS, N_, negotiate, translate
from shared.metrics import LabelledCounts, RequestStats
from shared.peer import CircuitBreaker
from shared.request_id import accept_or_make_request_id, request_id_var

log = logging.getLogger("gateway.proxy")
request_log = logging.getLogger("request")

# RFC 9110 §7.6.1 hop-by-hop fields, plus what the gateway itself owns on the way in.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
    }
)
STRIP_INBOUND = HOP_BY_HOP | {
    b"host",
    b"authorization",
    b"x-identity-assertion",
    b"x-request-id",
    b"content-length",
    b"x-forwarded-for",
    b"x-forwarded-proto",
}
STRIP_OUTBOUND = HOP_BY_HOP | {b"x-request-id", b"server", b"date"}
SMALL_RESPONSE = 64 * 1024
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BUSY_RETRY_AFTER = b"1"
# The rule for API descriptions in production (docs/security.md), for the merged one and each service's.
DESCRIPTION_FOR_TOKENS = N_(
    "in production the API description is served to authenticated callers only: "
    "send 'Authorization: Bearer <token>' (a staff sign-in or a client's token)"
)

# The problems the gateway itself answers on any service's route (documented in the merged OpenAPI).
PROXY_PROBLEMS = {
    "413": "`/problems/payload-too-large`: the body is over the gateway's limit (1 MiB by default; file uploads 33 MiB).",
    "429": "`/problems/rate-limited`: over the caller's rate limit; `Retry-After` says when to try again.",
    "502": "`/problems/bad-gateway`: the service's answer was broken or cut short.",
    "503": "`/problems/service-unavailable`: the service is unreachable, or failing and its circuit breaker is "
    "open (answered at once, without calling it). `/problems/busy`: every connection to the service is in "
    "use and the queue for one is full; the request was not sent, so it is safe to repeat after "
    "`Retry-After`. Both carry `service` and `Retry-After`.",
    "504": "`/problems/gateway-timeout`: the service did not answer within the route's read deadline (the request "
    "may have been carried out).",
}

# Served at the gateway's /metrics. Per request: one dict increment and one histogram observe.
REQUESTS = RequestStats(
    "gateway_requests",
    "gateway_request_duration_seconds",
    "Requests proxied to a service",
    ["upstream", "status"],
    ["upstream"],
)
UPSTREAM_ERRORS = LabelledCounts(
    "gateway_upstream_errors",
    "Upstream failures by kind: unreachable, timeout, "
    "bad_response, cut_mid_response, breaker_open and busy (both refused without "
    "calling)",
    ["upstream", "kind"],
)


def problem_bytes(
    status: int, slug: str, title: str, detail: str, request_id: str, *, code: str | None = None, **extra
) -> bytes:
    """A problem's body; `title` and `detail` already in the caller's language (`send_problem` translates)."""
    return json.dumps(
        {
            "type": f"/problems/{slug}",
            "code": code or slug.replace("-", "_"),
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": request_id,
            **extra,
        },
        ensure_ascii=False,
    ).encode()


def accept_language(scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"accept-language":
            return value.decode("latin-1")
    return None


async def send_problem(
    send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    request_id: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    locale: str = DEFAULT_LOCALE,
    params: dict | None = None,
    translated: bool = False,
    **extra,
) -> None:
    """A problem the gateway answers itself. `title` and `detail` are msgids (their `{placeholders}` filled from
    `params`), translated into `locale`, unless `translated` says they already are."""
    if not translated:
        title, detail = translate(locale, title), translate(locale, detail, params)
    body = problem_bytes(status, slug, title, detail, request_id, **extra)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"content-language", LANGUAGE_TAGS[locale].encode()),
                (b"vary", b"Accept-Language"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


async def read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


# What aiohttp would add to a request of its own accord, and the gateway does not: a caller's request goes to the
# service with the caller's User-Agent, Accept-Encoding and Content-Type, or none.
NOT_ADDED = CIMultiDictProxy(
    CIMultiDict((name, None) for name in (hdrs.USER_AGENT, hdrs.ACCEPT_ENCODING, hdrs.CONTENT_TYPE))
)


class ForwardedRequest(aiohttp.ClientRequest):
    """aiohttp's request, adding none of its default headers but `Accept: */*` when the caller sent none.

    What `skip_auto_headers` does, without building a multidict of the names to skip and a copy of every
    request's headers for each request (about 4 % of the gateway's CPU per proxied request)."""

    def update_auto_headers(self, skip_auto_headers) -> None:
        self._skip_auto_headers = NOT_ADDED  # read again when the body is set: no default Content-Type either
        if hdrs.ACCEPT not in self.headers:
            self.headers[hdrs.ACCEPT] = "*/*"


class Upstream:
    """One service: its base URL, a pooled session that lives as long as the gateway, a breaker, and the
    admission to the pool.

    At most `pool_size` requests are in flight to the service, and at most `queue_size` more wait for a
    free connection; beyond that the answer is 503 `busy` at once. Waiting for a connection is never timed
    out as if the service were slow: the deadlines cover only the TCP connect and the service's answer, so
    a 504 and the breaker's count mean the service itself did not answer.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        pool_size: int,
        keepalive_s: float,
        connect_timeout_s: float,
        read_timeout_s: float,
        queue_size: int = 0,
        read_timeouts: dict[str, float] | None = None,
        breaker: CircuitBreaker | None = None,
    ):
        self.name = name
        self.base_url = base_url
        self.breaker = breaker or CircuitBreaker()
        self.ready: bool | None = None  # what its /readyz said at the gateway's last readiness check
        self.pool_size, self.queue_size = pool_size, queue_size
        self.slots = asyncio.Semaphore(pool_size)
        self.waiting = 0

        def deadline(read_s: float) -> tuple[float, aiohttp.ClientTimeout]:
            return read_s, aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=connect_timeout_s, sock_read=read_s
            )

        self.default_deadline = deadline(read_timeout_s)
        # Per path prefix, longest first, so the most specific prefix wins.
        self.deadlines = [
            (prefix, deadline(s)) for prefix, s in sorted((read_timeouts or {}).items(), key=lambda item: -len(item[0]))
        ]
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool_size, keepalive_timeout=keepalive_s, ttl_dns_cache=300),
            timeout=self.default_deadline[1],
            cookie_jar=aiohttp.DummyCookieJar(),  # never carry one caller's cookies into another's request
            auto_decompress=False,  # pass encoded bodies through untouched
            request_class=ForwardedRequest,
        )

    def deadline_for(self, path: str) -> tuple[float, aiohttp.ClientTimeout]:
        for prefix, deadline in self.deadlines:
            if path.startswith(prefix):
                return deadline
        return self.default_deadline

    async def admit(self) -> bool:
        """Take a connection slot, queueing for one if the queue has room; False when it has none."""
        if self.slots.locked():
            if self.waiting >= self.queue_size:
                return False
            self.waiting += 1
            try:
                await self.slots.acquire()
            finally:
                self.waiting -= 1
        else:
            await self.slots.acquire()  # free: returns at once
        return True

    async def close(self) -> None:
        await self.session.close()


class UpstreamBreakers(Collector):
    """`gateway_circuit_breaker_state{upstream, state}`: 1 for the state each upstream's breaker is in; and
    `gateway_upstream_ready{upstream}`, as the last readiness check found it."""

    STATES = ("closed", "open", "half_open")

    def __init__(self, upstreams: Callable[[], dict[str, Upstream]]):
        self.upstreams = upstreams  # read at scrape time: the upstreams are made when the gateway starts

    def collect(self) -> Iterable:
        family = GaugeMetricFamily(
            "gateway_circuit_breaker_state", "Circuit breaker of each upstream, by state", labels=["upstream", "state"]
        )
        for name, upstream in self.upstreams().items():
            current = upstream.breaker.state
            for state in self.STATES:
                family.add_metric([name, state], 1 if state == current else 0)
        yield family
        ready = GaugeMetricFamily(
            "gateway_upstream_ready",
            "1 when the upstream's /readyz answered ready at the gateway's last readiness check, 0 when not",
            labels=["upstream"],
        )
        for name, upstream in self.upstreams().items():
            if upstream.ready is not None:
                ready.add_metric([name], 1 if upstream.ready else 0)
        yield ready


class Proxy:
    def __init__(
        self,
        upstreams: dict[str, Upstream],
        authenticator: Authenticator,
        max_body_bytes: int,
        buckets: Buckets,
        limits: dict[str, Limit],
        public_descriptions: bool = True,
        uploads: tuple[int, tuple[str, ...]] = (0, ()),
    ):
        self.upstreams = upstreams
        # (the larger limit, the path suffixes it applies to): file uploads such as spreadsheet imports.
        self.upload_max_body_bytes, self.upload_suffixes = uploads
        # Off in production: a service's OpenAPI document then goes to callers with a valid token only.
        self.public_descriptions = public_descriptions
        self.authenticator = authenticator
        self.max_body_bytes = max_body_bytes
        self.buckets = buckets
        self.limits = limits

    async def __call__(self, scope, receive, send, service: str) -> None:
        started = time.perf_counter()
        incoming_id = None
        authorization = None
        content_length = None
        chunked = False
        # Plain (name, value) pairs: aiohttp makes its own multidict of them, so a multidict here is a second copy.
        # ASGI servers give header names in lower case.
        forwarded: list[tuple[str, str]] = []
        for name, value in scope["headers"]:
            if name in STRIP_INBOUND:
                if name == b"x-request-id":
                    incoming_id = value.decode("latin-1")
                elif name == b"authorization":
                    authorization = value.decode("latin-1")
                elif name == b"content-length":
                    content_length = value
                elif name == b"transfer-encoding":
                    chunked = True
            else:
                forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
        request_id = accept_or_make_request_id(incoming_id)
        token = request_id_var.set(request_id)
        tracing.note_request_id(request_id, scope)
        status = {"code": 502, "kind": None}
        try:
            await self._forward(
                scope, receive, send, service, request_id, authorization, content_length, chunked, forwarded, status
            )
        finally:
            latency = time.perf_counter() - started
            REQUESTS.observe((service, status["code"]), (service,), latency)
            if request_log.isEnabledFor(logging.INFO):  # the line's fields are not even gathered when it is off
                request_log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "route": f"/api/{service}/*",
                            "upstream": service,
                            "status": status["code"],
                            "latency_ms": round(latency * 1000, 2),
                            "principal_kind": status["kind"],
                        }
                    },
                )
            request_id_var.reset(token)

    async def _forward(
        self, scope, receive, send, service, request_id, authorization, content_length, chunked, forwarded, status
    ) -> None:
        upstream = self.upstreams[service]

        def locale() -> str:
            # Only the gateway's own problems need the caller's language: not worked out for a proxied request.
            return negotiate(accept_language(scope))

        async def fail(status_code: int, slug: str, title: str, detail: str, headers=None, **extra) -> None:
            status["code"] = status_code
            await send_problem(send, status_code, slug, title, detail, request_id, headers, locale=locale(), **extra)

        try:
            bearer = bearer_token(authorization)
            principal = None
            if bearer is not None:
                assertion, principal = self.authenticator.assertion(bearer, service)
                status["kind"] = principal.kind
                forwarded.append(("x-identity-assertion", assertion))
        except DomainError as exc:
            title, detail = exc.localized(locale())
            return await fail(
                exc.status, exc.slug, title, detail, [(b"www-authenticate", b"Bearer")], code=exc.code, translated=True
            )
        # The decoded path, as the service will route it (an escaped `openapi%2Ejson` is the same document).
        if principal is None and not self.public_descriptions and scope["path"] == f"/api/{service}/v1/openapi.json":
            return await fail(
                401,
                "unauthorized",
                Unauthorized.title,
                DESCRIPTION_FOR_TOKENS,
                [(b"www-authenticate", b"Bearer")],
            )

        client = scope.get("client")
        if principal is not None:
            wait = await self.buckets.take(f"{principal.kind}:{principal.subject}", self.limits[principal.kind])
        else:
            wait = await self.buckets.take(f"ip:{client[0] if client else '-'}", self.limits["anonymous"])
        if wait:
            return await fail(
                429,
                "rate-limited",
                TooManyRequests.title,
                N_("slow down: retry in {seconds} s"),
                [(b"retry-after", retry_after_header(wait))],
                params={"seconds": retry_after_header(wait).decode()},
            )

        limit = self.max_body_bytes
        if self.upload_suffixes and scope["path"].endswith(self.upload_suffixes):
            limit = max(limit, self.upload_max_body_bytes)
        if content_length is not None and (not content_length.isdigit() or int(content_length) > limit):
            return await fail(
                413,
                "payload-too-large",
                N_("Request body too large"),
                N_("request bodies are limited to {limit} bytes"),
                params={"limit": limit},
            )
        try:
            # A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 §6.3): nothing to read.
            body = await read_body(receive, limit) if content_length is not None or chunked else b""
        except BodyTooLarge:
            return await fail(
                413,
                "payload-too-large",
                N_("Request body too large"),
                N_("request bodies are limited to {limit} bytes"),
                params={"limit": limit},
            )
        except ConnectionResetError:
            status["code"] = 499
            return

        forwarded.append(("x-request-id", request_id))
        if client:
            forwarded.append(("x-forwarded-for", client[0]))
        forwarded.append(("x-forwarded-proto", scope.get("scheme", "http")))
        path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
        query = scope["query_string"]
        url = upstream.base_url + path + ("?" + query.decode("latin-1") if query else "")
        method = scope["method"]

        breaker = upstream.breaker

        async def breaker_open() -> None:
            UPSTREAM_ERRORS.inc((service, "breaker_open"))
            pause = str(max(1, math.ceil(breaker.reset_after_s))).encode()
            await fail(
                503,
                "service-unavailable",
                N_("Service unavailable"),
                N_("the {service} service is failing; the gateway is not calling it for a moment"),
                [(b"retry-after", pause)],
                params={"service": service},
                service=service,
            )

        if breaker.state == "open":
            return await breaker_open()  # no point queueing for a service the gateway is not calling
        if not await upstream.admit():
            UPSTREAM_ERRORS.inc((service, "busy"))
            return await fail(
                503,
                "busy",
                N_("Service busy"),
                N_(
                    "all {pool_size} connections to the {service} service are in use and {queue_size} requests are "
                    "waiting for one; the request was not sent. Retry shortly"
                ),
                [(b"retry-after", BUSY_RETRY_AFTER)],
                params={"pool_size": upstream.pool_size, "service": service, "queue_size": upstream.queue_size},
                service=service,
            )
        try:
            # Asked after the wait in the queue: the breaker may have opened meanwhile.
            if not breaker.allow():
                return await breaker_open()
            try:
                answered = await self._attempts(
                    upstream, method, url, path, forwarded, body, request_id, send, status, fail
                )
            except BaseException:
                breaker.abandon()  # e.g. the client went away: no verdict on the service, but free the trial
                raise
            if answered:
                breaker.record_success()
            else:
                breaker.record_failure()
        finally:
            upstream.slots.release()

    async def _attempts(self, upstream, method, url, path, forwarded, body, request_id, send, status, fail) -> bool:
        """Forward once (twice for an idempotent method on a stale pooled connection); whether the
        service answered, which is what the breaker counts: its 4xx and 5xx are answers too."""
        service = upstream.name
        deadline_s, timeout = upstream.deadline_for(path)
        # As HTTP clients do (Go's transport, for one): a POST that carries an Idempotency-Key is as safe to send
        # again as a PUT, because the service answers a repeated key with the first answer (shared/idempotency.py).
        # That is what lets a service drain without failing its callers' writes (docs/operations.md).
        retryable = method in IDEMPOTENT_METHODS or any(name == "idempotency-key" for name, _ in forwarded)
        attempts = 2 if retryable else 1
        for attempt in range(attempts):
            started = {"response": False}
            try:
                await self._exchange(upstream, method, url, timeout, forwarded, body, request_id, send, status, started)
                return True
            except (TimeoutError, aiohttp.ClientError) as exc:
                if started["response"]:
                    # Headers are gone already: all that is left is to cut the stream short, and log it.
                    log.warning("upstream %s failed mid-response: %s", service, type(exc).__name__)
                    UPSTREAM_ERRORS.inc((service, "cut_mid_response"))
                    return False
                broken = isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))
                if broken and not isinstance(exc, aiohttp.ClientConnectorError) and attempt + 1 < attempts:
                    # The connection closed (FIN) or was reset (RST, a draining process closing with our request
                    # unread) before any answer: a call that is safe to repeat goes again.
                    continue
                if isinstance(exc, aiohttp.ClientConnectorError):
                    UPSTREAM_ERRORS.inc((service, "unreachable"))
                    await fail(
                        503,
                        "service-unavailable",
                        N_("Service unavailable"),
                        N_("the {service} service is not reachable; retry shortly"),
                        [(b"retry-after", b"5")],
                        params={"service": service},
                        service=service,
                    )
                elif isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
                    UPSTREAM_ERRORS.inc((service, "timeout"))
                    connecting = isinstance(exc, aiohttp.ConnectionTimeoutError)
                    await fail(
                        504,
                        "gateway-timeout",
                        N_("Upstream timed out"),
                        N_("the {service} service did not accept a connection within {seconds} s")
                        if connecting
                        else N_("the {service} service did not answer within {seconds} s"),
                        params={
                            "service": service,
                            "seconds": f"{timeout.sock_connect if connecting else deadline_s:g}",
                        },
                        service=service,
                    )
                else:
                    log.warning("upstream error from %s: %s", service, type(exc).__name__)
                    UPSTREAM_ERRORS.inc((service, "bad_response"))
                    await fail(
                        502,
                        "bad-gateway",
                        N_("Bad gateway"),
                        N_("the {service} service failed to answer"),
                        params={"service": service},
                        service=service,
                    )
                return False
        return False

    @staticmethod
    async def _exchange(upstream, method, url, timeout, forwarded, body, request_id, send, status, started) -> None:
        async with upstream.session.request(
            method, url, headers=forwarded, data=body or None, timeout=timeout, allow_redirects=False
        ) as response:
            status["code"] = response.status
            headers = []
            for name, value in response.raw_headers:
                name = name.lower()
                if name not in STRIP_OUTBOUND:
                    headers.append((name, value))
            headers.append((b"x-request-id", request_id.encode()))
            length = response.content_length
            if length is not None and length <= SMALL_RESPONSE:
                payload = await response.read()
                started["response"] = True
                await send({"type": "http.response.start", "status": response.status, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
            started["response"] = True
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
