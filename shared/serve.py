"""Run one process of the suite under uvicorn (uvloop, httptools), logging JSON lines."""

from __future__ import annotations

import os

import uvicorn
from starlette.types import ASGIApp

from shared import tracing
from shared.logs import configure_logging

# Services keep idle connections longer than the gateway's pool does, so the gateway never
# writes to a connection the service has just closed (a 502 race).
SERVICE_KEEP_ALIVE_S = 75
GRACEFUL_SHUTDOWN_S = 20


def serve(app: ASGIApp, *, name: str, port: int, log_level: str = "INFO") -> None:
    """X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS (uvicorn's setting; loopback by default):
    behind an ingress, set it to the ingress's addresses so rate limits see the real client."""
    configure_logging(name, log_level)
    uvicorn.run(
        tracing.traced_app(app, name),  # the app itself unless OTEL_EXPORTER_OTLP_ENDPOINT is set
        host=os.environ.get("BIND_HOST", "127.0.0.1"),
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_keep_alive=SERVICE_KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
