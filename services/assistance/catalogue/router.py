from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.assistance.catalogue import service
from services.assistance.catalogue.auth import CatalogueReader, CatalogueWriter
from services.assistance.catalogue.schemas import (
    CatalogueServiceIn,
    CatalogueServiceOut,
    Category,
    HouseholdNeedsOut,
    MatchOut,
    MatchRequest,
    MatchState,
    MatchStateIn,
    NeedIn,
)
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["catalogue 救助服务目录"])


@router.post(
    "/service-catalogue",
    status_code=201,
    response_model=CatalogueServiceOut,
    summary="Add a service to the catalogue",
    description='A service beyond cash ("物质+服务": 上门探访, '
    "心理疏导, 学业辅导, 危房修缮, 就业帮扶…) offered by a provider in an area, for the needs it answers.",
    responses=problem_responses(401, 403, 422),
)
async def add_service(data: CatalogueServiceIn, session: Session, principal: CatalogueWriter) -> CatalogueServiceOut:
    return CatalogueServiceOut.model_validate(await service.add_service(session, principal, data))


@router.get(
    "/service-catalogue",
    response_model=Page[CatalogueServiceOut],
    summary="Services offered in your area",
    description="Services of areas containing yours (e.g. city-wide) and of areas within it.",
    responses=problem_responses(401, 403, 422),
)
async def list_services(
    session: Session,
    principal: CatalogueReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    category: Category | None = None,
) -> Page[CatalogueServiceOut]:
    rows = await service.list_services(session, principal, page, area_code=area_code, category=category)
    return page_of([CatalogueServiceOut.model_validate(r) for r in rows], page, key=lambda s: s.id)


@router.post(
    "/service-catalogue/{service_id}/withdrawal",
    response_model=CatalogueServiceOut,
    summary="Withdraw a service from the catalogue",
    description="The provider stopped offering it: it is proposed no more (`active: false`); matches "
    "already made keep their course. Staff whose area includes the service's only; a second "
    "withdrawal is a 409.",
    responses=problem_responses(401, 403, 404, 409),
)
async def withdraw_service(service_id: int, session: Session, principal: CatalogueWriter) -> CatalogueServiceOut:
    return CatalogueServiceOut.model_validate(await service.deactivate(session, principal, service_id))


@router.post(
    "/households/{household_id}/needs",
    status_code=201,
    response_model=HouseholdNeedsOut,
    summary="Record a need found on a visit",
    description="Needs the register cannot show (心理疏导 psychological, 日常照料 daily_care, 就业帮扶 "
    "employment, a house in need of repair…), recorded by a worker of the household's area with "
    "what they saw. Matching (`POST /service-matches`) uses them with the derived needs. The "
    "same need twice is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_need(
    household_id: int, data: NeedIn, session: Session, principal: CatalogueWriter
) -> HouseholdNeedsOut:
    await service.record_need(session, principal, household_id, data)
    return await service.household_needs(session, principal, household_id)


@router.get(
    "/households/{household_id}/needs",
    response_model=HouseholdNeedsOut,
    summary="A household's needs",
    description="Derived from the register (ages, disabilities, programmes, recent disaster or housing "
    "signals) and recorded by workers, each with its basis.",
    responses=problem_responses(401, 403, 404),
)
async def household_needs(household_id: int, session: Session, principal: CatalogueReader) -> HouseholdNeedsOut:
    return await service.household_needs(session, principal, household_id)


@router.post(
    "/service-matches",
    status_code=201,
    response_model=list[MatchOut],
    summary="Match services to a household",
    description="Derives the household's needs (older people, living alone, disability, "
    "children, students, 低保/特困, unable to work, a recent disaster or housing change) and proposes every "
    "active service offered in its area that answers one of them, or the one `service_id` given. A service "
    "already matched and still open is not proposed twice (409 when asked for explicitly).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def match(data: MatchRequest, session: Session, principal: CatalogueWriter) -> list[MatchOut]:
    return [service.match_out(m, name) for m, name in await service.match(session, principal, data)]


@router.get(
    "/service-matches",
    response_model=Page[MatchOut],
    summary="Matches in your area",
    description="Services matched to households in your area and below, with their state (proposed, "
    "accepted, delivered, declined); filter by household or state.",
    responses=problem_responses(401, 403, 422),
)
async def list_matches(
    session: Session,
    principal: CatalogueReader,
    page: Annotated[PageParams, Depends(page_params)],
    household_id: int | None = None,
    state: MatchState | None = None,
) -> Page[MatchOut]:
    rows = await service.list_matches(session, principal, page, household_id=household_id, state=state)
    return page_of([service.match_out(m, n) for m, n in rows], page, key=lambda m: m.id)


@router.post(
    "/service-matches/{match_id}/state",
    response_model=MatchOut,
    summary="Track a match",
    description="proposed → accepted or declined; accepted → delivered or declined. Other moves are a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def move_match(match_id: int, data: MatchStateIn, session: Session, principal: CatalogueWriter) -> MatchOut:
    return service.match_out(*await service.move(session, principal, match_id, data.state, data.note))
