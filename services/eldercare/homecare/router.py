from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.homecare import caregiver_app, service
from services.eldercare.homecare.auth import (
    HomecareReader,
    HomecareWriter,
    VisitsAttendant,
    VisitsOperator,
    VisitsReader,
    VisitsWriter,
)
from services.eldercare.homecare.models import Provider
from services.eldercare.homecare.schemas import (
    CaregiverIn,
    CaregiverOut,
    CorrectionIn,
    CorrectionOut,
    HomeServiceIn,
    HomeServiceOut,
    MissedReport,
    MyVisitOut,
    PairedCaregiverOut,
    PairingCodeOut,
    PairingIn,
    Position,
    ProviderIn,
    ProviderOut,
    RatingIn,
    ScheduleIn,
    VisitIn,
    VisitOut,
    VisitStatus,
)
from services.eldercare.jobs import tasks
from shared import clock
from shared.addresses import (
    AddressChangeIn,
    enqueue_if_pending,
    give_address_again,
    placenames_of,
    staff_record,
    standardise_input,
)
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.params import IsoDate

router = APIRouter(tags=["home visits 居家上门服务"])


def _evv(request: Request) -> service.Evv:
    return service.Evv.of(request.app.state.settings)


async def _out(session, visit) -> VisitOut:
    return service.visit_out(visit, await service.drawn_for(session, visit.id))


@router.post(
    "/services",
    status_code=201,
    response_model=HomeServiceOut,
    summary="Add a catalogue service",
    description="A home-visit service (助浴, 助洁, 送餐, 陪诊…) with its price and duration. City staff.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_service(data: HomeServiceIn, session: Session, principal: HomecareWriter) -> HomeServiceOut:
    return HomeServiceOut.model_validate(await service.create_service(session, principal, data))


@router.get(
    "/services",
    response_model=list[HomeServiceOut],
    summary="The home-visit catalogue",
    description="Active services (居家上门服务目录) with price (fen) and duration.",
    responses=problem_responses(401, 403),
)
async def list_services(session: Session, _p: HomecareReader) -> list[HomeServiceOut]:
    return [HomeServiceOut.model_validate(s) for s in await service.list_services(session)]


@router.post(
    "/providers",
    status_code=201,
    response_model=ProviderOut,
    summary="Register a provider",
    description="A home-care provider (服务机构) in the caller's area, by its 统一社会信用代码. Its base, where "
    "its caregivers set out from, is a standard address (`address_code`) or free text standardised through "
    "placenames (`address`), which gives its division and position (see `POST /elders`); while placenames "
    "cannot be reached it is `pending`.",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_provider(
    data: ProviderIn, request: Request, session: Session, principal: HomecareWriter
) -> ProviderOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(placenames_of(request.app), principal, data)
    provider = await service.create_provider(session, principal, data, address)
    await enqueue_if_pending(session, tasks, address)
    return service.provider_out(provider)


@router.put(
    "/providers/{provider_id}/address",
    response_model=ProviderOut,
    summary="Give a provider's base address again",
    description="A standard address code or free text (an `unresolved` address, such as every provider recorded "
    "before bases had addresses; a move): the division and position follow. Staff of the provider's area, and "
    "the new address must lie in theirs.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change_provider_address(
    provider_id: int, data: AddressChangeIn, request: Request, session: Session, principal: HomecareWriter
) -> ProviderOut:
    load = staff_record(session, principal, Provider, provider_id, "provider")
    return service.provider_out(await give_address_again(request, session, principal, data, tasks, load))


@router.get(
    "/providers",
    response_model=Page[ProviderOut],
    summary="Find providers",
    description="Home-care providers (服务机构), by area.",
    responses=problem_responses(401, 403, 422),
)
async def list_providers(
    session: Session,
    _p: HomecareReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
) -> Page[ProviderOut]:
    rows = await service.list_providers(session, page, area_code=area_code)
    return page_of([service.provider_out(p) for p in rows], page, key=lambda p: p.id)


@router.post(
    "/caregivers",
    status_code=201,
    response_model=CaregiverOut,
    summary="Register a caregiver",
    description="A caregiver (护理员) of a provider in the caller's area, with the number, level and expiry "
    "date of their certificate. An expired certificate blocks scheduling. The ID number is "
    "validated and masked in every answer.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_caregiver(data: CaregiverIn, session: Session, principal: HomecareWriter) -> CaregiverOut:
    return service.caregiver_out(await service.create_caregiver(session, principal, data))


@router.get(
    "/caregivers",
    response_model=Page[CaregiverOut],
    summary="Find caregivers",
    description="`certified_on`: only caregivers whose certificate is valid on that day.",
    responses=problem_responses(401, 403, 422),
)
async def list_caregivers(
    session: Session,
    _p: HomecareReader,
    page: Annotated[PageParams, Depends(page_params)],
    provider_id: int | None = None,
    certified_on: IsoDate | None = None,
) -> Page[CaregiverOut]:
    rows = await service.list_caregivers(session, page, provider_id=provider_id, certified_on=certified_on)
    return page_of([service.caregiver_out(c) for c in rows], page, key=lambda c: c.id)


@router.post(
    "/visits",
    status_code=201,
    response_model=VisitOut,
    summary="Order a home visit",
    description="A visit of a catalogue service to a person the caller may act for, at a time to come; it "
    "ends after the service's duration unless `ends_at` says otherwise. Staff may schedule it "
    "to a caregiver at once (`caregiver_id`). A resident has at most a set number of visits open "
    "across the people they act for (409 `/problems/quota-reached`, resource "
    "`quotas/open_visits`). Booked at most `ELDERCARE_VISIT_BOOKING_HORIZON_DAYS` (366) days ahead. Safe to "
    "retry with an `Idempotency-Key`.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def order_visit(
    data: VisitIn,
    request: Request,
    session: Session,
    principal: VisitsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> VisitOut:
    async def create() -> VisitOut:
        settings = request.app.state.settings
        visit = await service.order_visit(
            session,
            principal,
            data,
            open_visit_quota=settings.resident_open_visits,
            horizon_days=settings.visit_booking_horizon_days,
        )
        return await _out(session, visit)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/visits",
    response_model=Page[VisitOut],
    summary="Home visits you may see",
    description="Latest start first; by person, caregiver, status or day (Asia/Shanghai).",
    responses=problem_responses(401, 403, 422),
)
async def list_visits(
    session: Session,
    principal: VisitsReader,
    page: Annotated[PageParams, Depends(page_params)],
    elder_id: int | None = None,
    caregiver_id: int | None = None,
    status: VisitStatus | None = None,
    day: IsoDate | None = None,
) -> Page[VisitOut]:
    rows = await service.list_visits(
        session, principal, page, elder_id=elder_id, caregiver_id=caregiver_id, status=status, day=day
    )
    return page_of([await _out(session, v) for v in rows], page, key=lambda v: [v.starts_at.isoformat(), v.id])


@router.get(
    "/visits/{visit_id}",
    response_model=VisitOut,
    summary="One home visit",
    description="Status, check-in/out distances, flags, lock and the subsidy split once verified.",
    responses=problem_responses(401, 403, 404),
)
async def get_visit(visit_id: int, session: Session, principal: VisitsReader) -> VisitOut:
    return await _out(session, await service.get_visit(session, principal, visit_id))


@router.post(
    "/visits/{visit_id}/schedule",
    response_model=VisitOut,
    summary="Schedule a visit to a caregiver",
    description="Assigns a caregiver whose certificate is valid on the visit's day. A caregiver is never "
    "double-booked: an overlapping visit is a 409 naming it, and the database refuses an "
    "overlap even under a race (PostgreSQL exclusion constraint; SQLite trigger). A caregiver "
    "whose provider works outside the person's area is a 409 naming the caregiver, unless staff "
    "holding `eldercare.overrides:write` give an `override_reason` (audited, `GET /overrides`).",
    responses=problem_responses(401, 403, 404, 409),
)
async def schedule(visit_id: int, data: ScheduleIn, session: Session, principal: VisitsOperator) -> VisitOut:
    return await _out(
        session, await service.schedule(session, principal, visit_id, data.caregiver_id, data.override_reason)
    )


@router.post(
    "/visits/{visit_id}/cancel",
    response_model=VisitOut,
    summary="Cancel a visit not yet started",
    description="A requested or scheduled visit is cancelled and frees the caregiver's time; later, a 409.",
    responses=problem_responses(401, 403, 404, 409),
)
async def cancel(visit_id: int, session: Session, principal: VisitsWriter) -> VisitOut:
    return await _out(session, await service.cancel(session, principal, visit_id))


@router.post(
    "/visits/{visit_id}/check-in",
    response_model=VisitOut,
    summary="Check in on site",
    description="Time, latitude, longitude and GPS accuracy of the caregiver's phone. A check-in farther from "
    "the person's home than the radius (200 m, settings) plus the accuracy is flagged "
    "(`check_in_far_from_home`); one more than 30 minutes (settings) before or after the "
    "scheduled start is flagged (`check_in_early`, `check_in_late`). A flag does not stop the "
    "visit: it sends it to review at check-out. A visit whose scheduled end is more than 30 days "
    "past is locked: a 409 naming it.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def check_in(
    visit_id: int, data: Position, request: Request, session: Session, principal: VisitsOperator
) -> VisitOut:
    return await _out(session, await service.check_in(session, principal, visit_id, data, evv=_evv(request)))


@router.post(
    "/visits/{visit_id}/check-out",
    response_model=VisitOut,
    summary="Check out: verified or flagged",
    description="Ends the visit. With no flag from check-in or check-out it is verified, and draws its price "
    "from the person's home-care subsidy as far as the balance goes (the rest is self-paid); "
    "otherwise it is flagged for review and draws nothing until staff correct it to verified. "
    "Check-out is flagged far from home (`check_out_far_from_home`) or when the visit lasted "
    "less than half (settings) of its scheduled duration (`too_short`). Without a check-in, or "
    "for a visit locked 30 days after its scheduled end, it is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def check_out(
    visit_id: int, data: Position, request: Request, session: Session, principal: VisitsOperator
) -> VisitOut:
    visit, drawn = await service.check_out(session, principal, visit_id, data, evv=_evv(request))
    return service.visit_out(visit, drawn)


@router.post(
    "/visits/{visit_id}/rating",
    response_model=VisitOut,
    summary="Rate a visit",
    description="1–5 and a comment, after check-out and before the record locks (30 days).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def rate(visit_id: int, data: RatingIn, session: Session, principal: VisitsWriter) -> VisitOut:
    return await _out(session, await service.rate(session, principal, visit_id, data.rating, data.comment))


@router.post(
    "/visits/missed-check",
    response_model=MissedReport,
    summary="Mark missed visits (job)",
    description="Scheduled visits in the caller's area with no check-in 30 minutes after their start become "
    "`missed`. The worker does this for the whole city every 5 minutes (job "
    "`visits.mark_missed`); this runs it now. Safe to run any number of times: a visit is "
    "reported once.",
    responses=problem_responses(401, 403),
)
async def missed_check(session: Session, principal: VisitsOperator) -> MissedReport:
    return MissedReport(marked_missed=await service.mark_missed(session, principal))


@router.post(
    "/visits/{visit_id}/corrections",
    status_code=201,
    response_model=CorrectionOut,
    summary="Correct a visit record (audited)",
    description="Staff change the status (verified/flagged) or the check-in/out times, with a reason; the "
    "values before and after are kept. A flagged visit confirmed as verified draws from the "
    "person's subsidy then, once (a repeated confirmation draws nothing more); a verified visit corrected "
    "to flagged gives its draw back (a reversal entry in the subsidy ledger) and draws again if "
    "confirmed again. After the 30-day "
    "lock this is the only way to change a record.",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def correct(visit_id: int, data: CorrectionIn, session: Session, principal: VisitsOperator) -> CorrectionOut:
    correction, _visit, _drawn = await service.correct(session, principal, visit_id, data)
    return CorrectionOut.model_validate(correction)


@router.get(
    "/visits/{visit_id}/corrections",
    response_model=list[CorrectionOut],
    summary="A visit's corrections",
    description="Every audited correction: who, when, why, values before and after.",
    responses=problem_responses(401, 403, 404),
)
async def list_corrections(visit_id: int, session: Session, principal: VisitsReader) -> list[CorrectionOut]:
    return [CorrectionOut.model_validate(c) for c in await service.corrections(session, principal, visit_id)]


# ---- the caregiver app ---------------------------------------------------------------------------------------


@router.post(
    "/caregivers/{caregiver_id}/app-pairings",
    status_code=201,
    response_model=PairingCodeOut,
    summary="Give a caregiver a pairing code for the app",
    description="Staff of the provider's area get a one-time code (8 characters, no look-alikes) for the "
    "caregiver to enter in the app after signing in (`POST /caregiver-pairings`). It is shown "
    "only in this answer (only a keyed hash is stored), works once, for 24 hours (settings), and "
    "a newer code for the same caregiver replaces it (one open code per caregiver, held by the "
    "database: of two issued at the same moment, one may be a 409). 404 for a caregiver who does "
    "not exist or is inactive; 403 outside the caller's area.",
    responses=problem_responses(401, 403, 404, 409),
)
async def issue_pairing_code(
    caregiver_id: int, request: Request, response: Response, session: Session, principal: HomecareWriter
) -> PairingCodeOut:
    response.headers["Cache-Control"] = "no-store"
    return await caregiver_app.issue_code(
        session, principal, caregiver_id, hours=request.app.state.settings.caregiver_pairing_hours
    )


@router.delete(
    "/caregivers/{caregiver_id}/app-pairing",
    status_code=204,
    summary="Unpair a caregiver's app",
    description="Staff of the provider's area: the account paired to the caregiver no longer acts for them "
    "and codes not yet used stop working. Safe to repeat (204 also when nothing was paired).",
    responses=problem_responses(401, 403, 404),
)
async def unpair_caregiver(caregiver_id: int, session: Session, principal: HomecareWriter) -> Response:
    await caregiver_app.unpair(session, principal, caregiver_id)
    return Response(status_code=204)


@router.post(
    "/caregiver-pairings",
    status_code=201,
    response_model=PairedCaregiverOut,
    summary="Pair your account to your caregiver record",
    description="A caregiver, signed in at the gateway (SMS code, like a resident), enters the code from "
    "the provider's staff; from then on `/my-visits` shows the visits assigned to them. A wrong, "
    "expired, used or replaced code is a 400 `/problems/pairing-code-refused`, the same for "
    "each. An account may enter 5 codes an hour (settings), then gets a 429 with "
    "`Retry-After`. An account paired to another caregiver moves to this one; the caregiver's "
    "previous account, if any, is replaced. Of two redemptions of one code, one wins.",
    responses=problem_responses(400, 401, 403, 409, 422, 429),
)
async def redeem_pairing_code(
    data: PairingIn, request: Request, session: Session, principal: VisitsAttendant
) -> PairedCaregiverOut:
    return await caregiver_app.redeem(
        session, principal, data.code, attempts_per_hour=request.app.state.settings.caregiver_pairing_attempts_per_hour
    )


@router.get(
    "/my-caregiver",
    response_model=PairedCaregiverOut,
    summary="The caregiver your account is paired to",
    description="404 while the account is not paired (the app then asks for a pairing code).",
    responses=problem_responses(401, 403, 404),
)
async def my_caregiver(session: Session, principal: VisitsAttendant) -> PairedCaregiverOut:
    return caregiver_app.paired_out(await caregiver_app.me(session, principal))


@router.get(
    "/my-visits",
    response_model=list[MyVisitOut],
    summary="Your visits of a day (caregiver app)",
    description="The visits assigned to the caregiver paired to your account that start on `date` "
    "(Asia/Shanghai; default today), earliest first, in every status, with the service's name. "
    "The person's name, address and home coordinates are given only while a visit is scheduled "
    "or under way (no ID number or phone). 404 while the account is not paired.",
    responses=problem_responses(401, 403, 404, 422),
)
async def my_visits(
    session: Session,
    principal: VisitsAttendant,
    date: Annotated[IsoDate | None, Query(description="A day, e.g. 2026-12-01")] = None,
) -> list[MyVisitOut]:
    return await caregiver_app.my_visits(session, principal, date or clock.today())


@router.post(
    "/my-visits/{visit_id}/check-in",
    response_model=VisitOut,
    summary="Check in on site (caregiver app)",
    description="As `POST /visits/{visit_id}/check-in`, for a visit assigned to the caregiver paired to your "
    "account (404 for any other visit, and for an account not paired). The position is flagged "
    "(`far_from_home`) beyond the radius plus the GPS accuracy. A caregiver whose certificate "
    "has expired by the day of the check-in is refused (409); staff may still record the visit.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def my_check_in(
    visit_id: int, data: Position, request: Request, session: Session, principal: VisitsAttendant
) -> VisitOut:
    return await _out(session, await caregiver_app.check_in(session, principal, visit_id, data, evv=_evv(request)))


@router.post(
    "/my-visits/{visit_id}/check-out",
    response_model=VisitOut,
    summary="Check out (caregiver app)",
    description="As `POST /visits/{visit_id}/check-out`, for a visit assigned to the caregiver paired to "
    "your account (404 otherwise): verified, drawing from the person's subsidy, or flagged for "
    "review. Without a check-in it is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def my_check_out(
    visit_id: int, data: Position, request: Request, session: Session, principal: VisitsAttendant
) -> VisitOut:
    visit, drawn = await caregiver_app.check_out(session, principal, visit_id, data, evv=_evv(request))
    return service.visit_out(visit, drawn)
