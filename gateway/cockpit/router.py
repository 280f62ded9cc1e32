"""The digital cockpit (民政数字驾驶舱): `/api/cockpit/v1/indicators` and the page at `/cockpit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request, Security
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from gateway.cockpit.layout import DISTRICTS, Area
from gateway.cockpit.schemas import CockpitOut, District
from gateway.cockpit.service import Cockpit
from gateway.principals import bearer_scheme, bearer_token
from shared.areas import DISTRICT_CODE_PATTERN
from shared.errors import Forbidden, Unauthorized, problem_responses
from shared.identity import Principal

STATIC = Path(__file__).parent / "static"

router = APIRouter(tags=["cockpit 数字驾驶舱"])


def _staff(request: Request, authorization: str | None) -> tuple[str, Principal]:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized(
            "sign in as staff (POST /api/auth/v1/staff-sign-ins) and send 'Authorization: Bearer <token>'"
        )
    principal, _ = request.app.state.authenticator.principal(token)
    if not principal.is_area_staff:
        raise Forbidden("the cockpit is for staff of the civil-affairs bureaus (工作人员)")
    return token, principal


def _districts(principal: Principal) -> list[District]:
    """The districts this member of staff may pick: all ten for the city, else none but their own view."""
    return [District(code=c, name=n) for c, n in DISTRICTS.items() if principal.covers(c)]


@router.get(
    "/api/cockpit/v1/indicators",
    response_model=CockpitOut,
    summary="The plan's indicators of all four services, against their 2022 targets",
    description="For the cockpit page (民政数字驾驶舱). Staff sign-in required. City staff (330200) see the "
    "whole city or any `district`; district staff see their own district (another is 403). "
    "Gathers eldercare, assistance, charity and placenames `/indicators` concurrently (5 s "
    "each) and caches the result for 15 s per area. A service that is down or lacks an "
    "indicator makes only its panel (or that indicator) say so in words; the answer is still "
    "200. Each indicator carries its value, unit, target, whether it is met, and progress.",
    responses=problem_responses(401, 403, 422),
)
async def cockpit_indicators(
    request: Request,
    district: Annotated[
        str | None,
        Query(pattern=DISTRICT_CODE_PATTERN, description="A district code such as 330212; omit for your whole area"),
    ] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    _doc: Annotated[object, Security(bearer_scheme)] = None,
) -> CockpitOut:
    token, principal = _staff(request, authorization)
    code = district or principal.area
    if not principal.covers(code):
        raise Forbidden("district {code_} is outside your area {area}", code_=code, area=principal.area)
    cockpit: Cockpit = request.app.state.cockpit
    return await cockpit.indicators(token, principal.scopes, Area(code), _districts(principal))


@router.get("/cockpit", include_in_schema=False)
async def cockpit_page() -> FileResponse:
    # The page itself holds no data: it signs in and asks the API above, so it may be served to anyone.
    return FileResponse(STATIC / "cockpit.html", headers={"cache-control": "no-cache"})


def install(app: FastAPI, gateway) -> None:
    """Wire the cockpit into the gateway's own app (before its catch-all `/api/...` route)."""
    app.state.cockpit = Cockpit(gateway)
    app.include_router(router)
    app.mount("/cockpit/static", StaticFiles(directory=STATIC), name="cockpit-static")
