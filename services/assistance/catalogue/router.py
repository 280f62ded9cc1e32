from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.assistance.catalogue import service
from services.assistance.catalogue.schemas import (Category, CatalogueServiceIn, CatalogueServiceOut, MatchOut,
                                                   MatchRequest, MatchState, MatchStateIn)
from services.assistance.scopes import CATALOGUE_READ, CATALOGUE_WRITE
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.identity import Principal, require
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["catalogue 救助服务目录"])
Reader = Annotated[Principal, require(CATALOGUE_READ)]
Writer = Annotated[Principal, require(CATALOGUE_WRITE)]


@router.post("/service-catalogue", status_code=201, response_model=CatalogueServiceOut,
             summary="Add a service to the catalogue", description="A service beyond cash (\"物质+服务\": 上门探访, "
             "心理疏导, 学业辅导, 危房修缮, 就业帮扶…) offered by a provider in an area, for the needs it answers.",
             responses=problem_responses(401, 403, 422))
async def add_service(data: CatalogueServiceIn, session: Session, principal: Writer) -> CatalogueServiceOut:
    return service.service_out(await service.add_service(session, principal, data))


@router.get("/service-catalogue", response_model=Page[CatalogueServiceOut], summary="Services offered in your area",
            description="Services of areas containing yours (e.g. city-wide) and of areas within it.",
            responses=problem_responses(401, 403, 422))
async def list_services(session: Session, principal: Reader, page: Annotated[PageParams, Depends(page_params)],
                        area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
                        category: Category | None = None) -> Page[CatalogueServiceOut]:
    rows = await service.list_services(session, principal, page, area_code=area_code, category=category)
    return page_of([service.service_out(r) for r in rows], page, key=lambda s: s.id)


@router.post("/service-matches", status_code=201, response_model=list[MatchOut], summary="Match services to a "
             "household", description="Derives the household's needs (older people, living alone, disability, "
             "children, students, 低保/特困, unable to work, a recent disaster or housing change) and proposes every "
             "active service offered in its area that answers one of them, or the one `service_id` given. A service "
             "already matched and still open is not proposed twice (409 when asked for explicitly).",
             responses=problem_responses(401, 403, 404, 409, 422))
async def match(data: MatchRequest, session: Session, principal: Writer) -> list[MatchOut]:
    return [service.match_out(m, name) for m, name in await service.match(session, principal, data)]


@router.get("/service-matches", response_model=Page[MatchOut], summary="Matches in your area",
            description="Services matched to households in your area and below, with their state (proposed, "
                        "accepted, delivered, declined); filter by household or state.",
            responses=problem_responses(401, 403, 422))
async def list_matches(session: Session, principal: Reader, page: Annotated[PageParams, Depends(page_params)],
                       household_id: int | None = None, state: MatchState | None = None) -> Page[MatchOut]:
    rows = await service.list_matches(session, principal, page, household_id=household_id, state=state)
    return page_of([service.match_out(m, n) for m, n in rows], page, key=lambda m: m.id)


@router.post("/service-matches/{match_id}/state", response_model=MatchOut, summary="Track a match",
             description="proposed → accepted or declined; accepted → delivered or declined. Other moves are a 409.",
             responses=problem_responses(401, 403, 404, 409, 422))
async def move_match(match_id: int, data: MatchStateIn, session: Session, principal: Writer) -> MatchOut:
    return service.match_out(*await service.move(session, principal, match_id, data.state, data.note))
