"""Liveness (/healthz: the process answers, no database) and readiness (/readyz: its database answers, and
nothing the service warms up at start is still warming).

A service that must prepare something before it can answer in time (placenames starts its parse worker and
ships it the parser's dictionary) adds a name to `app.state.warming` at startup and removes it when done, or
when it gave up: /readyz answers 503 `starting` meanwhile, so a rolling update sends it no traffic yet."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

log = logging.getLogger("shared.health")
router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 2.0


@router.get("/healthz", summary="Liveness", description="The process is up. Touches no database.")
async def healthz(request: Request) -> dict[str, Any]:
    return {"status": "ok", "service": request.app.state.settings.service_name}


@router.get(
    "/readyz",
    summary="Readiness",
    description="The service's database answers a query within 2 s, and nothing it warms up at start (e.g. "
    "placenames' parse worker) is still warming.",
    responses={503: {"description": "The database does not answer, or the service is still warming up"}},
    response_model=None,
)
async def readyz(request: Request) -> dict[str, Any] | JSONResponse:
    service = request.app.state.settings.service_name
    if warming := getattr(request.app.state, "warming", None):
        # Not ready whatever the database says; not asked meanwhile (the warm-up keeps a core busy).
        return JSONResponse({"status": "starting", "service": service, "warming": sorted(warming)}, 503)
    try:
        await asyncio.wait_for(request.app.state.database.ping(), READY_TIMEOUT_S)
    except Exception as exc:  # any failure to reach the database means not ready
        log.warning("not ready: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "service": service, "database": "unreachable"}, 503)
    return {"status": "ready", "service": service, "database": request.app.state.database.dialect}
