"""Run one process of the suite under uvicorn (uvloop, httptools), logging JSON lines."""

from __future__ import annotations

import os
import socket

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
    behind an ingress, set it to the ingress's addresses so rate limits see the real client.

    REUSE_PORT=1 binds with SO_REUSEPORT, so that on one host a new version of a process can start on the same
    port beside the old one, which then drains (SIGTERM) while the kernel hands new connections to the new one:
    an upgrade without a load balancer (docs/operations.md). Kubernetes gives each pod its own address and
    needs none of this."""
    configure_logging(name, log_level)
    config = uvicorn.Config(
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
    server = uvicorn.Server(config)
    if os.environ.get("REUSE_PORT") == "1":
        server.run(sockets=[_reuse_port_socket(config.host, port)])
    else:
        server.run()


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
