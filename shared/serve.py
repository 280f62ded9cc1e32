"""Run one process of the suite under uvicorn (uvloop, httptools), logging JSON lines."""

from __future__ import annotations

import os

import uvicorn

from shared.logs import configure_logging

# Services keep idle connections longer than the gateway's pool does, so the gateway never
# writes to a connection the service has just closed (a 502 race).
SERVICE_KEEP_ALIVE_S = 75
GRACEFUL_SHUTDOWN_S = 20


def serve(app, *, name: str, port: int, log_level: str = "INFO", front_door: bool = False) -> None:
    """`front_door`: the gateway takes X-Forwarded-For from no one; services trust the gateway's."""
    configure_logging(name, log_level)
    uvicorn.run(
        app,
        host=os.environ.get("BIND_HOST", "127.0.0.1"),
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        proxy_headers=not front_door,
        access_log=False,
        timeout_keep_alive=SERVICE_KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
