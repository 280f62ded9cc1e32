from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.placenames import gazetteer
from services.placenames.names import service
from services.placenames.names.auth import NamesWriter
from services.placenames.names.schemas import EventIn, EventOut, FilingIn, Kind, NameDetail, NameIn, NameOut, Status
from services.placenames.names.service import event_out
from shared.areas import DISTRICT_CODE_PATTERN
from shared.db import RowId, Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["names 标准地名"])
NameId = RowId


@router.post(
    "/names",
    status_code=201,
    response_model=NameOut,
    summary="Record a place name",
    description="A standard name (标准名称) of a road, street, lane, bridge, residential area or building, "
    "with its naming decision (命名批复) if given; or an alias (别名) or historical name "
    "(历史名称) pointing at the name it stands for. Staff record names in their own area.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_name(data: NameIn, request: Request, session: Session, principal: NamesWriter) -> NameOut:
    row = await service.create(session, principal, data)
    gazetteer.invalidate(request.app, session)
    return NameOut.model_validate(row)


@router.get(
    "/names",
    response_model=Page[NameOut],
    summary="List place names (public)",
    description="Filter by name prefix, kind, status (standard 标准, alias 别名, historical 历史) and district.",
    responses=problem_responses(422),
)
async def list_names(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(max_length=100, description="Name prefix")] = None,
    kind: Kind | None = None,
    status: Status | None = None,
    district_code: Annotated[str | None, Query(pattern=DISTRICT_CODE_PATTERN)] = None,
) -> Page[NameOut]:
    rows = await service.list_page(session, page, q=q, kind=kind, status=status, district_code=district_code)
    return page_of([NameOut.model_validate(r) for r in rows], page, key=lambda n: n.id)


@router.get(
    "/names/resolve",
    response_model=list[NameDetail],
    summary="Today's standard name for a name (public)",
    description="Every recorded name spelled exactly so, each with today's standard name: an alias or "
    "historical name resolves through any chain of renamings (甬江路 → 江东路 → 江东北路).",
    responses=problem_responses(422),
)
async def resolve_name(
    session: Session,
    name: Annotated[str, Query(min_length=1, max_length=100)],
    district_code: Annotated[str | None, Query(pattern=DISTRICT_CODE_PATTERN)] = None,
) -> list[NameDetail]:
    return await service.resolve_text(session, name, district_code)


@router.get(
    "/names/{name_id}",
    response_model=NameDetail,
    summary="One place name and today's standard form (public)",
    description="The name, the chain of names it passed through and today's standard name it resolves to.",
    responses=problem_responses(404, 422),
)
async def get_name(name_id: NameId, session: Session) -> NameDetail:
    return await service.detail(session, name_id)


@router.post(
    "/names/{name_id}/events",
    status_code=201,
    response_model=EventOut,
    summary="Record a decision about a standard name",
    description="更名 renaming (to `new_name`), 统一 unification (into `into_id`; `unification_group` names "
    "the plan's group), 销名 retirement, 不规范地名整治 rectification (the name becomes an alias "
    "of `new_name` or `into_id`). Each carries its decision document and date; the filing "
    "(备案) is due 15 days after the decision and `filing_missed` says when it was not made in "
    "time. Standard addresses on a renamed road keep their codes and follow the new name. "
    "Two decisions racing on one name: the second gets a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_event(
    name_id: NameId, data: EventIn, request: Request, session: Session, principal: NamesWriter
) -> EventOut:
    event = await service.add_event(session, principal, name_id, data)
    gazetteer.invalidate(request.app, session)
    return event_out(event)


@router.get(
    "/names/{name_id}/events",
    response_model=list[EventOut],
    summary="A name's history (public)",
    description="Decisions about this name or leading to it, oldest first, with their filing deadline.",
    responses=problem_responses(404, 422),
)
async def list_events(name_id: NameId, session: Session) -> list[EventOut]:
    return [event_out(e) for e in await service.events_of(session, name_id)]


@router.post(
    "/name-events/{event_id}/filing",
    response_model=EventOut,
    summary="Record that a decision was filed",
    description="备案: the date the decision was filed. Once only (a second filing is a 409).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_filing(event_id: RowId, data: FilingIn, session: Session, principal: NamesWriter) -> EventOut:
    return event_out(await service.record_filing(session, principal, event_id, data.filed_on))
