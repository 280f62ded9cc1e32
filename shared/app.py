"""The one way a service becomes an ASGI app: lifespan, errors, request context, health, its routers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from shared.db import Database
from shared.errors import PROBLEM_MEDIA_TYPE, Problem, install_error_handlers
from shared.health import router as health_router
from shared.logs import RequestContextMiddleware
from shared.metrics import install_metrics
from shared.params import refuse_control_characters
from shared.settings import ServiceSettings


def api_prefix(service_name: str) -> str:
    return f"/api/{service_name}/v1"


Hook = Callable[[FastAPI], Awaitable[None]]

# JSON Schema's "time" format is RFC 3339's full-time, which requires an offset; a menu's cut-off or a
# visit window is a wall-clock time in Asia/Shanghai, which Pydantic writes without one ("20:00:00").
WALL_CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"


def _wall_clock_times(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            del node["format"]
            node["pattern"] = WALL_CLOCK_PATTERN
            node.setdefault("description", "Wall-clock time in Asia/Shanghai, HH:MM or HH:MM:SS")
        for value in node.values():
            _wall_clock_times(value)
    elif isinstance(node, list):
        for value in node:
            _wall_clock_times(value)


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
INVALID_FIELDS = (
    "Invalid fields (`/problems/validation-failed`): each of `errors` names one, in the body, the "
    "query, the path or a header; a body that is not JSON is named `body`"
)
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def document_problems(document: dict[str, Any]) -> None:
    """Every 4xx/5xx answer of the document as what it is: problem+json, a `Problem`; and a 422 on every operation:
    any request can carry an invalid field (a control character in the query string, a body that is not JSON), not
    only those FastAPI finds parameters in.

    FastAPI on its own documents a 422 as `application/json` with its `HTTPValidationError`, which no answer of
    ours has ever been; the gateway runs this on the merged document too (its own routes run the same check of
    every query string)."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            invalid = responses.setdefault("422", {})
            if invalid.get("description") in (None, "Validation Error"):
                invalid["description"] = INVALID_FIELDS
            for status, response in responses.items():
                if status[:1] in ("4", "5") and not _declares_its_own_error(response):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in {**problem.pop("$defs", {}), "Problem": problem}.items():
        schemas.setdefault(name, schema)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _declares_its_own_error(response: dict[str, Any]) -> bool:
    """An error answer documented with a model of its own (the token endpoint's RFC 6749 errors), not a problem."""
    media: dict[str, Any] = next(iter(response.get("content", {}).values()), {})
    ref: str = media.get("schema", {}).get("$ref", "")
    return bool(ref) and not ref.endswith(("/Problem", "/HTTPValidationError"))


def _customise_openapi(app: FastAPI, path_order: Sequence[str]) -> None:
    build = app.openapi
    rank = {path: n for n, path in enumerate(dict.fromkeys(path_order))}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()  # build() caches the document on app.openapi_schema
        # The paths in the order the service lists its routers, whatever order they are matched in.
        paths = document.get("paths", {})
        document["paths"] = dict(sorted(paths.items(), key=lambda item: rank.get(item[0], -1)))
        _wall_clock_times(document)
        document_problems(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its document


def _busiest_routes(busiest: Sequence[Callable[..., Any]], routers: Sequence[APIRouter]) -> list[APIRoute]:
    """The routes of the `busiest` endpoints, each in exactly one of `routers`, and refused where one would take
    another route's requests: the same method, a path its pattern takes (`/elders/{elder_id}` would take
    `/elders/export`), now that it is tried first."""
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    chosen = []
    for endpoint in busiest:
        owners = [router for router in routers for r in router.routes if getattr(r, "endpoint", None) is endpoint]
        if len(owners) != 1:
            raise ValueError(f"a busiest endpoint must be the route of one router: {endpoint.__name__}")
        if owners[0].max_body_size is not None or owners[0].form_limits:
            # Its own router's limits would not apply where it is matched first.
            raise ValueError(f"{endpoint.__name__}'s router sets body limits of its own")
        chosen.append(next(r for r in routes if r.endpoint is endpoint))
    for route in chosen:
        for other in (r for r in routes if r is not route):
            example = re.sub(r"\{[^}]+\}", "1", other.path)
            methods = (route.methods or set()) & (other.methods or set())
            if methods and route.path_regex.match(example):
                raise ValueError(f"{sorted(methods)} {route.path} would take the requests of {other.path}")
    return chosen


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    busiest: Sequence[Callable[..., Any]] = (),
    version: str = "1.0.0",
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
) -> FastAPI:
    """`on_startup` hooks run once the database is ready (e.g. resuming background jobs a stopped process
    left behind); `on_shutdown` hooks run before it is closed.

    `busiest`, the endpoints of the rushes (a meal order, a donation), are matched before any other route.
    FastAPI finds a request's route by trying each route of each router in turn, at a few µs a route tried, and
    those of the request's own router twice (once to pick the router, once the route): a meal order tried 20
    routes with its router first (docs/benchmarks/eldercare.md). So their routes are included first, from a router
    of their own left out of the OpenAPI document, which keeps `routers`' order; one that would take another
    route's requests is refused (`_busiest_routes`)."""
    prefix = api_prefix(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Tests may hand the app a database bound to their own transaction before it starts.
        owns_database = getattr(app.state, "database", None) is None
        if owns_database:
            app.state.database = Database(settings.database_url, pool_size=settings.db_pool_size)
        try:
            for hook in on_startup:
                await hook(app)
            yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            if (placenames := getattr(app.state, "placenames", None)) is not None:  # made on first use
                await placenames.aclose()
            if owns_database:
                await app.state.database.dispose()

    production = settings.env == "production"
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        openapi_url=f"{prefix}/openapi.json",
        docs_url=None if production else f"{prefix}/docs",
        redoc_url=None,
        lifespan=lifespan,
        # Before every route: no control character in a query or path parameter or a stored header.
        dependencies=[Depends(refuse_control_characters)],
        # A redirect to the path without its trailing slash would name this process's own address, which
        # callers behind the gateway must never see: a 404 that says the path to use instead.
        redirect_slashes=False,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, api_prefix=prefix)
    install_metrics(app, settings.service_name, api_prefix=prefix)  # GET /metrics, for Prometheus
    app.include_router(health_router)
    if busiest:
        first = APIRouter(routes=list(_busiest_routes(busiest, routers)))  # a list of BaseRoute
        app.include_router(first, prefix=prefix, include_in_schema=False)
    for router in routers:
        app.include_router(router, prefix=prefix)
    _customise_openapi(app, [prefix + r.path for router in routers for r in router.routes if isinstance(r, APIRoute)])
    return app
