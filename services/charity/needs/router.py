from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.needs import service
from services.charity.needs.auth import MatchesWriter, NeedsWriter, OffersWriter
from services.charity.needs.schemas import (
    Category,
    DeliveryIn,
    MatchIn,
    MatchOut,
    NeedIn,
    NeedOut,
    OfferIn,
    OfferOut,
    Proposal,
)
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["needs and resources 慈善需求与资源对接"])


@router.post(
    "/needs",
    status_code=201,
    response_model=NeedOut,
    summary="Publish a community need",
    description="慈善需求发布: category, area (a community of your area), quantity, urgency, deadline.",
    responses=problem_responses(401, 403, 422),
)
async def publish_need(
    data: NeedIn,
    request: Request,
    session: Session,
    principal: NeedsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> NeedOut:
    async def create() -> NeedOut:
        return service.need_out(await service.publish(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/needs",
    response_model=Page[NeedOut],
    summary="Published needs (public)",
    description="No sign-in: needs with what is matched and fulfilled so far. `open=true` keeps those "
    "not yet fully matched and not past their deadline.",
    responses=problem_responses(422),
)
async def list_needs(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    area: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    category: Annotated[Category | None, Query()] = None,
    open: bool = False,
) -> Page[NeedOut]:
    rows = await service.list_needs(session, page, area=area, category=category, open_only=open)
    return page_of([service.need_out(n) for n in rows], page, key=lambda n: n.id)


@router.get(
    "/needs/{need_id}",
    response_model=NeedOut,
    summary="One need (public)",
    description="No sign-in: a published need with what is matched and fulfilled so far.",
    responses=problem_responses(404, 422),
)
async def get_need(need_id: int, session: Session) -> NeedOut:
    return service.need_out(await service.get_need(session, need_id))


@router.get(
    "/needs/{need_id}/match-proposals",
    response_model=list[Proposal],
    summary="Proposed matches",
    description="Offers of the same category, still available, deliverable where the need is, ranked: "
    "nearest area first (community, street, district, city), then those covering the whole "
    "remaining quantity, then those expiring soonest; each with its reasons. Staff of the need's "
    "area confirm them with `POST /matches`.",
    responses=problem_responses(401, 403, 404, 422),
)
async def match_proposals(
    need_id: int, session: Session, principal: MatchesWriter, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> list[Proposal]:
    return await service.proposals(session, principal, need_id, limit)


@router.post(
    "/resource-offers",
    status_code=201,
    response_model=OfferOut,
    summary="Offer a resource",
    description="A person, company or organisation offers goods or services of a category, deliverable in "
    "an area, until a date. The contact phone is never shown unmasked.",
    responses=problem_responses(401, 403, 422),
)
async def offer_resource(
    data: OfferIn,
    request: Request,
    session: Session,
    principal: OffersWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OfferOut:
    async def create() -> OfferOut:
        return service.offer_out(await service.offer(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/resource-offers",
    response_model=Page[OfferOut],
    summary="Offers you may see",
    description="Staff: offers deliverable in their area; others: their own offers.",
    responses=problem_responses(401, 403, 422),
)
async def list_offers(
    session: Session, principal: OffersWriter, page: Annotated[PageParams, Depends(page_params)]
) -> Page[OfferOut]:
    rows = await service.list_offers(session, principal, page)
    return page_of([service.offer_out(o) for o in rows], page, key=lambda o: o.id)


@router.get(
    "/resource-offers/{offer_id}",
    response_model=OfferOut,
    summary="One offer",
    description="An offer you made, or one deliverable in your area (staff); the phone masked.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_offer(offer_id: int, session: Session, principal: OffersWriter) -> OfferOut:
    return service.offer_out(await service.get_offer(session, principal, offer_id))


@router.post(
    "/matches",
    status_code=201,
    response_model=MatchOut,
    summary="Confirm a match",
    description="Staff of the need's area allocate a quantity of an offer to a need. Neither side is ever "
    "over-matched: conditional updates on both, so of concurrent confirmations only those that "
    "fit succeed (409 naming the side that ran out).",
    responses=problem_responses(401, 403, 409, 422),
)
async def confirm_match(
    data: MatchIn,
    request: Request,
    session: Session,
    principal: MatchesWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MatchOut:
    async def create() -> MatchOut:
        return MatchOut.model_validate(await service.confirm(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.post(
    "/matches/{match_id}/deliveries",
    response_model=MatchOut,
    summary="Record a delivery",
    description="Counts a quantity delivered to the need (fulfilled), never more than the match.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def deliver(match_id: int, data: DeliveryIn, session: Session, principal: MatchesWriter) -> MatchOut:
    return MatchOut.model_validate(await service.deliver(session, principal, match_id, data))
