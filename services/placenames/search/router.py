from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from services.placenames import gazetteer
from services.placenames.search import service
from services.placenames.search.schemas import GeocodeOut, ReverseOut, SearchOut
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(tags=["search 检索与地理编码"])


@router.get(
    "/addresses/search",
    response_model=SearchOut,
    summary="Search as you type (public)",
    description="输入联想: while the name is being typed, districts, streets, communities, roads and "
    "residential areas by prefix, by pinyin initials (`ttnl` → 天童南路) or full pinyin, with or "
    "without spaces and partly typed (`zhongshanxilu`, `zhong shan xi lu`, `zhongshanx` → "
    "中山西路; ü as v or u), and despite one wrong, "
    "missing or extra character, ranked by how they match and by level; once a road or area is "
    "typed in full, its standard addresses filtered by the number typed so far.",
    responses=problem_responses(422),
)
async def search(
    request: Request,
    session: Session,
    q: Annotated[str, Query(min_length=1, max_length=100, description="What has been typed")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    gaz = await gazetteer.current(request.app, session)
    return await service.search(session, gaz, q, limit)


@router.get(
    "/geocode",
    response_model=GeocodeOut,
    summary="Coordinates of an address (public)",
    description="地理编码: parses and matches the text, then gives the standard address's coordinates (a room "
    "without its own point gets its house's). Ambiguous text gets candidates and no point.",
    responses=problem_responses(422),
)
async def geocode(
    request: Request, session: Session, q: Annotated[str, Query(min_length=1, max_length=500)]
) -> GeocodeOut:
    gaz = await gazetteer.current(request.app, session)
    return await service.geocode(session, gaz, q)


@router.get(
    "/reverse-geocode",
    response_model=ReverseOut,
    summary="Standard addresses near a point (public)",
    description="逆地理编码: the nearest current standard addresses within `radius_m` (10–1,000 m) of a WGS-84 "
    "point, nearest first. Portable: geohash cells in indexed columns on either backend.",
    responses=problem_responses(422),
)
async def reverse_geocode(
    session: Session,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[float, Query(ge=10, le=1000)] = 100,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    level: Literal["house", "building", "unit", "room"] | None = None,
) -> ReverseOut:
    return await service.reverse(session, lat, lon, radius_m, limit, level)
