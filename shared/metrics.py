"""Prometheus metrics: `/metrics` on every process, requests by route template, status and latency.

Counts and histograms are kept in plain dicts and turned into Prometheus families only when scraped: one
observation is a dict increment and a bisect, with no lock (everything runs on the event loop's thread).
The gateway's proxy, which every request of the suite crosses, observes through the same class.

Labels are route templates (`/api/eldercare/v1/elders/{elder_id}`), never raw paths, so no ID number or
phone reaches a label and the number of series stays bounded; paths no route matched are `unmatched`.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import route_template

# Seconds: from a cached lookup to a slow report; the proxy's and the services' alike.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOUNDS = [*(repr(b) for b in BUCKETS), "+Inf"]

Labels = tuple[object, ...]  # label values, in the order of the family's label names


class RequestStats(Collector):
    """A counter `<name>_total{count_labels}` and a histogram `<latency_name>{latency_labels}`."""

    def __init__(
        self,
        name: str,
        latency_name: str,
        documentation: str,
        count_labels: Sequence[str],
        latency_labels: Sequence[str],
    ):
        self.name, self.latency_name, self.documentation = name, latency_name, documentation
        self.count_labels, self.latency_labels = list(count_labels), list(latency_labels)
        self.counts: dict[Labels, int] = {}
        # Per key: one non-cumulative count per bucket (the last is +Inf), then the sum of seconds.
        self.histograms: dict[Labels, list[float]] = {}

    def observe(self, count_key: Labels, latency_key: Labels, seconds: float) -> None:
        self.counts[count_key] = self.counts.get(count_key, 0) + 1
        histogram = self.histograms.get(latency_key)
        if histogram is None:
            histogram = self.histograms[latency_key] = [0] * (len(BUCKETS) + 1) + [0.0]
        histogram[bisect_left(BUCKETS, seconds)] += 1
        histogram[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily(self.name, self.documentation, labels=self.count_labels)
        for key, value in list(self.counts.items()):
            counter.add_metric([str(v) for v in key], value)
        yield counter
        histogram = HistogramMetricFamily(
            self.latency_name, f"Latency: {self.documentation.lower()}", labels=self.latency_labels
        )
        for key, values in list(self.histograms.items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip(_BOUNDS, values, strict=False):
                cumulative += count
                buckets.append((bound, cumulative))
            histogram.add_metric([str(v) for v in key], buckets, sum_value=values[-1])
        yield histogram


class LabelledCounts(Collector):
    """A plain counter family; `inc(key)` is one dict increment."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]):
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self.counts: dict[Labels, int] = {}

    def inc(self, key: Labels) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in list(self.counts.items()):
            family.add_metric([str(v) for v in key], value)
        yield family


class PoolCollector(Collector):
    """Connections of the process's database pool checked out right now, and the pool's size."""

    def __init__(self, service: str, database: object) -> None:
        self.service, self.database = service, database

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily(
            "db_pool_connections_in_use", "Database connections checked out of the pool", labels=["service"]
        )
        size = GaugeMetricFamily("db_pool_size", "Connections the pool keeps open", labels=["service"])
        engine = getattr(self.database, "engine", None)
        pool = engine.sync_engine.pool if engine is not None else None
        if pool is not None and hasattr(pool, "checkedout"):
            in_use.add_metric([self.service], pool.checkedout())
            size.add_metric([self.service], pool.size())
        yield in_use
        yield size


class BreakerCollector(Collector):
    """The state of each peer client's circuit breaker found on the app's state (e.g. eldercare's
    `app.state.assistance`): 1 for the state it is in, 0 for the others, so an alert can watch `open`."""

    STATES = ("closed", "open", "half_open")

    def __init__(self, service: str, state: object) -> None:
        self.service, self.state = service, state

    def collect(self) -> Iterator[Metric]:
        from shared.peer import PeerClient  # here: most processes scrape without ever needing it

        family = GaugeMetricFamily(
            "peer_circuit_breaker_state",
            "Circuit breaker of each peer client, by state",
            labels=["service", "peer", "state"],
        )
        # Starlette's State keeps its attributes in `_state`; peers are found there, not declared twice.
        for peer in [v for v in getattr(self.state, "_state", {}).values() if isinstance(v, PeerClient)]:
            current = peer.breaker.state
            for state in self.STATES:
                family.add_metric([self.service, peer.name, state], 1 if state == current else 0)
        yield family


EVENTS = LabelledCounts(
    "business_events",
    "Domain events committed (meal orders, bed holds, donations, screenings, ...), by service, event and outcome",
    ["service", "event", "outcome"],
)
_PENDING = "business_events_pending"


def count_event(service: str, event_name: str, outcome: str = "ok") -> None:
    """Count a domain event whose transaction has committed (shared.direct's, which has no session)."""
    EVENTS.inc((service, event_name, outcome))


def count_after_commit(session: AsyncSession, service: str, event_name: str, outcome: str = "ok") -> None:
    """Count a domain event when `session`'s transaction commits; a rolled-back one is never counted."""
    session.sync_session.info.setdefault(_PENDING, []).append((service, event_name, outcome))


@event.listens_for(SyncSession, "after_commit")
def _count_committed_events(session: SyncSession) -> None:
    for key in session.info.pop(_PENDING, ()):
        EVENTS.inc(key)


@event.listens_for(SyncSession, "after_rollback")
def _forget_rolled_back_events(session: SyncSession) -> None:
    session.info.pop(_PENDING, None)


HTTP = RequestStats(
    "http_requests",
    "http_request_duration_seconds",
    "Requests served, by route template",
    ["service", "method", "route", "status"],
    ["service", "method", "route"],
)
PROCESS = ProcessCollector(registry=None)


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): counts each HTTP request and observes its latency."""

    def __init__(self, app: ASGIApp, service: str, api_prefix: str = ""):
        self.app, self.service, self.api_prefix = app, service, api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]  # what the client gets when the app raises before answering

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_template(scope, self.api_prefix)
            HTTP.observe(
                (self.service, scope["method"], route, status[0]),
                (self.service, scope["method"], route),
                time.perf_counter() - started,
            )


def install_metrics(app: FastAPI, service: str, api_prefix: str = "", extra: Sequence[Collector] = ()) -> None:
    """Count `app`'s requests and serve `/metrics` (Prometheus text): these counts, the database pool of
    `app.state.database`, the business events, its peer clients' breakers, the process (CPU, memory, open
    files) and any `extra`."""
    app.add_middleware(MetricsMiddleware, service=service, api_prefix=api_prefix)

    async def metrics(request: Request) -> Response:
        registry = CollectorRegistry(auto_describe=False)
        for collector in (
            HTTP,
            EVENTS,
            PROCESS,
            PoolCollector(service, getattr(request.app.state, "database", None)),
            BreakerCollector(service, request.app.state),
            *extra,
        ):
            registry.register(collector)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
