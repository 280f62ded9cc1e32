"""A service's busiest routes are matched first, with the same routes and the same OpenAPI document."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from services.eldercare.elders.router import router as elders_router
from services.eldercare.main import create_app
from services.eldercare.meals.router import router as meals_router
from services.eldercare.settings import EldercareSettings
from services.placenames.settings import PlacenamesSettings
from shared.app import create_service_app


def _routers() -> tuple[APIRouter, APIRouter]:
    things, exports = APIRouter(tags=["things"]), APIRouter(tags=["exports"])

    @things.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict:
        return {"thing": thing_id}

    @exports.get("/things-export")
    async def export() -> dict:
        return {"export": True}

    @exports.get("/exports/{name}")
    async def named(name: str) -> dict:
        return {"export": name}

    return things, exports


def _endpoint(router: APIRouter, path: str) -> Callable[..., Any]:
    return next(route.endpoint for route in router.routes if isinstance(route, APIRoute) and route.path == path)


def _app(busiest: list[Callable[..., Any]], routers: list[APIRouter]):
    return create_service_app(
        PlacenamesSettings(env="test"), title="t", description="d", routers=routers, busiest=busiest
    )


def test_the_document_keeps_the_routers_order_whoever_is_matched_first():
    plain_routers, busy_routers = _routers(), _routers()
    plain = _app([], list(plain_routers)).openapi()
    busy = _app([_endpoint(busy_routers[1], "/exports/{name}")], list(busy_routers)).openapi()
    assert json.dumps(busy) == json.dumps(plain)  # the same document, in the same order, each operation once
    assert list(busy["paths"])[-3:] == [
        "/api/placenames/v1/things/{thing_id}",
        "/api/placenames/v1/things-export",
        "/api/placenames/v1/exports/{name}",
    ]


async def test_every_route_still_answers_its_own_requests():
    things, exports = _routers()
    app = _app([_endpoint(exports, "/exports/{name}"), _endpoint(exports, "/things-export")], [things, exports])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/api/placenames/v1/things/7")).json() == {"thing": 7}
        assert (await client.get("/api/placenames/v1/things-export")).json() == {"export": True}
        assert (await client.get("/api/placenames/v1/exports/x")).json() == {"export": "x"}


def test_a_busiest_route_that_would_take_another_routes_requests_is_refused():
    things, exports = _routers()

    @things.get("/exports/{name}/rows")
    async def rows(name: str) -> dict:
        return {}

    @exports.get("/things/export")  # /things/{thing_id} would take it, were `things` matched first
    async def shadowed() -> dict:
        return {}

    with pytest.raises(ValueError, match=r"/things/\{thing_id\} would take the requests of /things/export"):
        _app([_endpoint(things, "/things/{thing_id}")], [exports, things])
    _app([_endpoint(things, "/exports/{name}/rows")], [exports, things])  # takes none of the others'


def test_a_busiest_endpoint_must_be_one_routers_route():
    things, exports = _routers()

    async def nowhere() -> dict:
        return {}

    with pytest.raises(ValueError, match="nowhere"):
        _app([nowhere], [things, exports])


def test_eldercare_documents_its_paths_in_its_routers_order():
    paths = list(create_app(EldercareSettings(env="test")).openapi()["paths"])
    where = {path: n for n, path in enumerate(paths)}

    def places(router: APIRouter) -> list[int]:
        return [where["/api/eldercare/v1" + route.path] for route in router.routes]

    # The elders' routes are listed before meal aid's, as before meal aid was matched first.
    assert max(places(elders_router)) < min(places(meals_router))
