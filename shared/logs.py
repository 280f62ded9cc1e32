"""JSON logs, one line per request, each carrying the request id the gateway assigned.

No personal data goes into a log line: the request line has the route template, never the raw path
(which may hold an ID) nor the query string.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.request_id import accept_or_make_request_id, request_id_var


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        trace_id = tracing.current_trace_id()
        if trace_id:
            line["trace_id"] = trace_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    # Each record otherwise looks up its source file, thread and process: work no log line uses.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would repeat our request line without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # httpx writes a line for every request it sends: the change-feed follower would log one a second, and peer
    # calls have their own metrics and traces. Its warnings still come through.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


request_log = logging.getLogger("request")


def route_template(scope: Scope, api_prefix: str) -> str:
    """The matched route's template with the service's prefix (routers report theirs without it)."""
    route: str | None = getattr(scope.get("route"), "path", None)
    if route is None:
        return "unmatched"
    path: str = scope["path"]
    if api_prefix and path.startswith(api_prefix) and not route.startswith(api_prefix):
        return api_prefix + route
    return route


class RequestContextMiddleware:
    """Pure ASGI middleware: adopt the request id, echo it, and log one JSON line per request."""

    def __init__(self, app: ASGIApp, api_prefix: str = ""):
        self.app = app
        # Routes included under a prefix report their path without it; the log names the full template.
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = accept_or_make_request_id(incoming)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id  # for `request_id_of`
        tracing.note_request_id(request_id, scope)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            state = scope.get("state") or {}
            request_log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "route": route_template(scope, self.api_prefix),
                        "status": status_holder["status"],
                        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                        "principal_kind": state.get("principal_kind"),
                    }
                },
            )
            request_id_var.reset(token)
