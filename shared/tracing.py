"""OpenTelemetry traces, off unless an OTLP endpoint is configured by the standard `OTEL_*` variables.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, unless
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The exporter (OTLP over HTTP), the batch
processor (`OTEL_BSP_*`), the sampler (`OTEL_TRACES_SAMPLER`) and the resource (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`) read their own variables; the service name defaults to the process's name.

What is traced: each HTTP request a process serves (FastAPI's native telemetry in the services, the
ASGI instrumentation around the gateway's raw proxy), its SQL statements (SQLAlchemy, statements
without their parameters), and its outgoing HTTP calls (httpx for peer calls, aiohttp for the gateway's
proxy), which carry W3C `traceparent` so one trace follows a request from the gateway through every
service it touches. Every span carries the request id (`request.id`); query strings are cut from URL
attributes, since a query may hold personal data (a phone number, an ID number).

Off, none of this is imported or installed: no middleware, no hook, no cost.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from shared import direct
from shared.request_id import current_request_id

if TYPE_CHECKING:  # imported where used: with tracing off, none of OpenTelemetry is loaded
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span as SdkSpan
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.trace import Span

_enabled = False


def configured(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def enabled() -> bool:
    return _enabled


# Attributes of the HTTP semantic conventions, old and new, that may hold a query string.
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.query")


def _span_processor() -> SpanProcessor:
    from opentelemetry.sdk.trace import SpanProcessor

    class RequestIdAndNoQueries(SpanProcessor):
        """Adds the request id to every span as it starts, and cuts query strings from URL attributes."""

        def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
            request_id = current_request_id()
            if request_id:
                span.set_attribute("request.id", request_id)
            _cut_queries(span)

    return RequestIdAndNoQueries()


def _cut_queries(span: Span, request: object = None) -> None:
    """Cut query strings from a span's URL attributes: as it starts, and again from the instrumentations'
    hooks, since some set their URL attributes after the start."""
    for name in _URL_ATTRIBUTES:
        value = (getattr(span, "attributes", None) or {}).get(name)
        if isinstance(value, str) and (name == "url.query" or "?" in value):
            span.set_attribute(name, "" if name == "url.query" else value.split("?", 1)[0])


async def _cut_queries_async(span: Span, request: object = None) -> None:
    _cut_queries(span, request)


def start(service_name: str) -> bool:
    """Set up the process's tracer provider and the client instrumentations, once; whether tracing is on."""
    global _enabled
    if _enabled or not configured():
        return _enabled
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, when set, wins over the default given here (Resource.create merges the env).
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(_span_processor())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(request_hook=_cut_queries, async_request_hook=_cut_queries_async)
    AioHttpClientInstrumentor().instrument(url_filter=lambda url: str(url.with_query(None)))
    # Wraps sqlalchemy.ext.asyncio.create_async_engine: engines made from here on (in each app's startup,
    # by shared.db.make_engine) trace their statements, without parameter values.
    # Its declared range stops below SQLAlchemy 2.1 (ours), but the engine events it listens to are
    # unchanged in 2.1; tests/e2e/test_traces.py checks that statements do become spans.
    SQLAlchemyInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    # Statements sent straight to the driver (shared.direct) are spans of the same shape.
    tracer = trace.get_tracer("shared.direct")
    direct.WATCHERS.append(
        lambda sql: tracer.start_as_current_span(
            sql.split(None, 1)[0],
            kind=trace.SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": sql},
        )
    )
    _enabled = True
    return True


_SERVER_SPAN = "otel.server_span"  # where the ASGI scope carries the span serving the request


def _keep_server_span(span: Span, scope: MutableMapping[str, Any]) -> None:
    scope[_SERVER_SPAN] = span
    _cut_queries(span)


def traced_app(app: Any, service_name: str) -> Any:
    """`app` wrapped to serve a span per HTTP request when tracing is on; `app` itself otherwise.

    The request id is set on the server span by the request-context middleware (services) or the proxy
    (gateway) as soon as it is known, since this wrapper runs before either; the span travels in the
    ASGI scope because by then another span (FastAPI's own) may be the current one.
    """
    if not start(service_name):
        return app
    from fastapi import FastAPI

    if isinstance(app, FastAPI):
        return app  # FastAPI serves its own request spans once a tracer provider is set (native telemetry)
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app,
        excluded_urls="/healthz,/readyz,/metrics",
        exclude_spans=["receive", "send"],
        server_request_hook=_keep_server_span,
    )


def note_request_id(request_id: str, scope: MutableMapping[str, Any]) -> None:
    """Put the request id on the span serving the request (a no-op when tracing is off)."""
    if _enabled:
        from opentelemetry import trace

        for span in (scope.get(_SERVER_SPAN), trace.get_current_span()):
            if span is not None:
                span.set_attribute("request.id", request_id)


def current_trace_id() -> str | None:
    """The trace id of the current span, for log lines (None when tracing is off or no span is current)."""
    if not _enabled:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
