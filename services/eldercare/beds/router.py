from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from services.eldercare.beds import flows, institutions, occupancy, waitlist
from services.eldercare.beds.auth import AdmissionsReader, BedHoldsWriter, BedsReader, BedsWriter, OverridesWriter
from services.eldercare.beds.models import Institution
from services.eldercare.beds.schemas import (
    AdmissionIn,
    AdmissionOut,
    BedAvailabilityOut,
    BedIn,
    BedOut,
    BedType,
    DischargeIn,
    EmergencyAdmissionIn,
    HoldIn,
    HoldOut,
    InstitutionIn,
    InstitutionOut,
    WaitlistIn,
    WaitlistOut,
)
from services.eldercare.database import IDEMPOTENCY_KEYS
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
from shared.areas import DISTRICT_CODE_PATTERN, DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.params import IsoDate

router = APIRouter(tags=["institution beds 机构床位"])

AreaQuery = Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)]


def _settings(request: Request):
    return request.app.state.settings


@router.post(
    "/institutions",
    status_code=201,
    response_model=InstitutionOut,
    summary="Register an institution",
    description="An elderly-care institution (养老机构), public (公办) or private (民办), with its star rating "
    "(星级), in the caller's area. Its place is a standard address (`address_code`) or free text "
    "standardised through placenames (`address`), which gives its division and position (see `POST /elders`); "
    "while placenames cannot be reached it is `pending`.",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_institution(
    data: InstitutionIn, request: Request, session: Session, principal: BedsWriter
) -> InstitutionOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(
        placenames_of(request.app), principal, data, latitude=data.latitude, longitude=data.longitude
    )
    institution = await institutions.create_institution(session, principal, data, address)
    await enqueue_if_pending(session, tasks, address)
    return institutions.institution_out(institution)


@router.put(
    "/institutions/{institution_id}/address",
    response_model=InstitutionOut,
    summary="Give an institution's address again",
    description="A standard address code or free text, as at registration (an `unresolved` address, a move): "
    "the division and position follow. Staff of the institution's area, and the new address must lie in theirs.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change_institution_address(
    institution_id: int, data: AddressChangeIn, request: Request, session: Session, principal: BedsWriter
) -> InstitutionOut:
    load = staff_record(session, principal, Institution, institution_id, "institution")
    return institutions.institution_out(await give_address_again(request, session, principal, data, tasks, load))


@router.get(
    "/institutions",
    response_model=Page[InstitutionOut],
    summary="Find institutions",
    description="By area (district or street code), ownership and minimum star rating.",
    responses=problem_responses(401, 403, 422),
)
async def list_institutions(
    session: Session,
    _principal: BedsReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: AreaQuery = None,
    ownership: Literal["public", "private"] | None = None,
    min_stars: Annotated[int | None, Query(ge=1, le=5)] = None,
) -> Page[InstitutionOut]:
    rows = await institutions.list_institutions(
        session, page, area_code=area_code, ownership=ownership, min_stars=min_stars
    )
    return page_of([institutions.institution_out(i) for i in rows], page, key=lambda i: i.id)


@router.get(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    summary="One institution",
    description="Ownership (公办/民办), star rating and district.",
    responses=problem_responses(401, 403, 404),
)
async def get_institution(institution_id: int, session: Session, _principal: BedsReader) -> InstitutionOut:
    return institutions.institution_out(await institutions.get_institution(session, institution_id))


@router.post(
    "/beds",
    status_code=201,
    response_model=BedOut,
    summary="Add a bed",
    description="A bed of an institution in the caller's area: general (普通), nursing-type (护理型) or "
    "dementia care (认知障碍照护).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_bed(data: BedIn, session: Session, principal: BedsWriter) -> BedOut:
    bed = await institutions.create_bed(session, principal, data)
    return await institutions.get_bed(session, bed.id)


@router.get(
    "/beds",
    response_model=Page[BedOut],
    summary="Search beds and their availability",
    description="Beds by type, district and institution, each with its occupancy now (free, held, occupied). "
    "`free=true` keeps only beds that can take a person now: in service, not occupied, and not "
    "held (a hold past its deadline does not count). `available_on` keeps the beds available on "
    "that day by the rule of `GET /bed-availability` (a live hold blocks its bed up to the day "
    "of its deadline); that endpoint also answers for a range of days.",
    responses=problem_responses(401, 403, 422),
)
async def search_beds(
    session: Session,
    _principal: BedsReader,
    page: Annotated[PageParams, Depends(page_params)],
    bed_type: BedType | None = None,
    district_code: Annotated[str | None, Query(pattern=DISTRICT_CODE_PATTERN)] = None,
    institution_id: int | None = None,
    available_on: IsoDate | None = None,
    free: bool = False,
) -> Page[BedOut]:
    rows = await institutions.search_beds(
        session,
        page,
        bed_type=bed_type,
        district_code=district_code,
        institution_id=institution_id,
        available_on=available_on,
        only_free=free,
    )
    return page_of(rows, page, key=lambda b: b.id)


@router.get(
    "/bed-availability",
    response_model=Page[BedAvailabilityOut],
    summary="Beds available on a date or range",
    description="Beds of an institution, or in an area, that can take a person on every day from `date_from` "
    "to `date_to` (Asia/Shanghai dates; one day when `date_to` is left out), from today up to "
    f"{institutions.AVAILABILITY_HORIZON_DAYS} days ahead. The rule, from what the records hold: "
    "a bed out of service is never available; a bed with an admission (入住) is not available on any "
    "day, because no planned discharge date is recorded — a stay ends when its discharge is "
    "recorded, and from then on the bed is available; a live hold (预留, including a waitlist "
    "offer) blocks its bed up to and including the day its deadline falls on, and from the next "
    "day the bed counts as available if the hold lapses (`basis: if_hold_lapses`, with "
    "`held_until`: a confirmed hold becomes an admission); a hold past its deadline counts for "
    "nothing. With `whole_range=false` the answer also lists beds that become available within "
    "the range (`available_from` after `date_from`). A bed of a type people are waiting for is "
    "offered through the waitlist (轮候) rather than held directly. Dates in the past, a "
    "`date_to` before `date_from`, or beyond the horizon are a 422.",
    responses=problem_responses(401, 403, 422),
)
async def bed_availability(
    session: Session,
    _principal: BedsReader,
    page: Annotated[PageParams, Depends(page_params)],
    date_from: Annotated[IsoDate | None, Query(description="First day (YYYY-MM-DD, default today)")] = None,
    date_to: Annotated[IsoDate | None, Query(description="Last day, inclusive (default: date_from)")] = None,
    bed_type: BedType | None = None,
    institution_id: Annotated[int | None, Query(gt=0, description="Only this institution's beds")] = None,
    area_code: Annotated[
        str | None,
        Query(pattern=DIVISION_CODE_PATTERN, description="Only institutions in this area (district or street code)"),
    ] = None,
    whole_range: Annotated[
        bool,
        Query(
            description="true: only beds available on every day of the range; "
            "false: also those that become available within it"
        ),
    ] = True,
) -> Page[BedAvailabilityOut]:
    first = date_from or clock.today()
    rows = await institutions.bed_availability(
        session,
        page,
        date_from=first,
        date_to=date_to or first,
        bed_type=bed_type,
        institution_id=institution_id,
        area_code=area_code,
        whole_range=whole_range,
    )
    return page_of(rows, page, key=lambda b: b.bed_id)


@router.get(
    "/beds/{bed_id}",
    response_model=BedOut,
    summary="One bed",
    description="Type and occupancy now (free, held, occupied, out of service).",
    responses=problem_responses(401, 403, 404),
)
async def get_bed(bed_id: int, session: Session, _principal: BedsReader) -> BedOut:
    return await institutions.get_bed(session, bed_id)


@router.post(
    "/bed-holds",
    status_code=201,
    response_model=HoldOut,
    summary="Hold a bed for a person",
    description="Reserves a free bed (预留) for a person the caller may act for, for `minutes` (default 30). "
    "A hold past its deadline frees the bed by itself: the next claim marks it expired. One "
    "person per bed and one live hold or admission per person, held by the database: a 409 "
    "names the bed, or the person's existing hold or admission. A bed of a type people are "
    "waiting for is offered through the waitlist instead. A resident holds at most a set number "
    "of beds at once (409 `/problems/quota-reached`, resource `quotas/bed_holds`). Safe to retry "
    "with an `Idempotency-Key`.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_hold(
    data: HoldIn,
    request: Request,
    principal: BedHoldsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HoldOut:
    return await flows.place_hold(request, principal, data, key=idempotency_key)


@router.get(
    "/bed-holds",
    response_model=Page[HoldOut],
    summary="Bed holds you may see",
    description="Newest first; `active=true` keeps holds before their deadline.",
    responses=problem_responses(401, 403, 422),
)
async def list_holds(
    session: Session,
    principal: AdmissionsReader,
    page: Annotated[PageParams, Depends(page_params)],
    elder_id: int | None = None,
    bed_id: int | None = None,
    active: bool = False,
) -> Page[HoldOut]:
    rows = await occupancy.list_occupancies(
        session, principal, page, kind="hold", elder_id=elder_id, bed_id=bed_id, active_only=active
    )
    return page_of([occupancy.hold_out(h) for h in rows], page, key=lambda h: h.id)


@router.get(
    "/bed-holds/{hold_id}",
    response_model=HoldOut,
    summary="One bed hold",
    description="Status (a hold past its deadline reads expired) and, once confirmed, its admission.",
    responses=problem_responses(401, 403, 404),
)
async def get_hold(hold_id: int, session: Session, principal: AdmissionsReader) -> HoldOut:
    return occupancy.hold_out(*await occupancy.get_hold(session, principal, hold_id))


@router.post(
    "/bed-holds/{hold_id}/confirm",
    status_code=201,
    response_model=AdmissionOut,
    summary="Confirm a hold: admit the person",
    description="Staff of the institution's area turn a live hold into an admission (入住), in one "
    "transaction. A hold past its deadline, released or already confirmed is a 409.",
    responses=problem_responses(401, 403, 404, 409),
)
async def confirm_hold(hold_id: int, session: Session, principal: BedsWriter) -> AdmissionOut:
    return AdmissionOut.model_validate(await occupancy.confirm_hold(session, principal, hold_id))


@router.post(
    "/bed-holds/{hold_id}/release",
    response_model=HoldOut,
    summary="Release a hold",
    description="Gives the bed up before the deadline. Releasing a waitlist offer declines it: the bed is "
    "offered to the next person waiting.",
    responses=problem_responses(401, 403, 404, 409),
)
async def release_hold(hold_id: int, request: Request, session: Session, principal: BedHoldsWriter) -> HoldOut:
    hold = await occupancy.release_hold(session, principal, hold_id, offer_hours=_settings(request).bed_offer_hours)
    return occupancy.hold_out(hold)


@router.post(
    "/admissions",
    status_code=201,
    response_model=AdmissionOut,
    summary="Admit a person directly",
    description="An admission without a hold first (e.g. an emergency placement), by staff of the "
    "institution's area. The same rules as a hold: one person per bed, one active admission per "
    "person, each a 409 naming what is in the way.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def admit(
    data: AdmissionIn,
    request: Request,
    session: Session,
    principal: BedsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AdmissionOut:
    async def create() -> AdmissionOut:
        return AdmissionOut.model_validate(await occupancy.admit_directly(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.post(
    "/emergency-admissions",
    status_code=201,
    response_model=AdmissionOut,
    summary="Admit a person in an emergency, over another person's hold",
    description="Staff of the institution's area holding `eldercare.overrides:write` admit a person to a bed "
    "another person holds (预留), with a mandatory `override_reason`: the hold is released and "
    "records the override and its reason (`override_id`, `override_reason`), a waitlist offer "
    "taken away puts its person back to waiting, and the override is audited (`GET "
    "/overrides`), all in one transaction. Only a hold gives way: a bed with someone admitted, "
    "or a person already holding or in a bed, is a 409 as for `POST /admissions`; of two "
    "overrides of one bed at once, one admits and the other is a 409. Never a resident (403).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def admit_in_emergency(
    data: EmergencyAdmissionIn,
    request: Request,
    session: Session,
    principal: OverridesWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AdmissionOut:
    async def create() -> AdmissionOut:
        return AdmissionOut.model_validate(await occupancy.admit_over_hold(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/admissions",
    response_model=Page[AdmissionOut],
    summary="Admissions you may see",
    description="Newest first; `active=true` keeps people still in their bed.",
    responses=problem_responses(401, 403, 422),
)
async def list_admissions(
    session: Session,
    principal: AdmissionsReader,
    page: Annotated[PageParams, Depends(page_params)],
    elder_id: int | None = None,
    bed_id: int | None = None,
    active: bool = False,
) -> Page[AdmissionOut]:
    rows = await occupancy.list_occupancies(
        session, principal, page, kind="admission", elder_id=elder_id, bed_id=bed_id, active_only=active
    )
    return page_of([AdmissionOut.model_validate(a) for a in rows], page, key=lambda a: a.id)


@router.get(
    "/admissions/{admission_id}",
    response_model=AdmissionOut,
    summary="One admission",
    description="Bed, dates and, after discharge, the reason.",
    responses=problem_responses(401, 403, 404),
)
async def get_admission(admission_id: int, session: Session, principal: AdmissionsReader) -> AdmissionOut:
    return AdmissionOut.model_validate(await occupancy.get_admission(session, principal, admission_id))


@router.post(
    "/admissions/{admission_id}/discharge",
    response_model=AdmissionOut,
    summary="Discharge a person",
    description="Ends the stay (退住) and frees the bed, which is offered at once to the first person "
    "waiting for its type (`next_offer_id`).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def discharge(
    admission_id: int, data: DischargeIn, request: Request, session: Session, principal: BedsWriter
) -> AdmissionOut:
    admission, offer_id = await occupancy.discharge(
        session, principal, admission_id, data.reason, offer_hours=_settings(request).bed_offer_hours
    )
    return AdmissionOut.model_validate(admission).model_copy(update={"next_offer_id": offer_id})


@router.post(
    "/waitlist",
    status_code=201,
    response_model=WaitlistOut,
    summary="Join the waitlist for a bed type",
    description="Puts a person on the waitlist (轮候) for a bed type, optionally in one district. Priority: "
    "特困 first (from the assistance service; when it does not answer, a status it gave within "
    "24 h, and the entry says `priority_basis: fallback`), then the capability assessment level "
    "(more dependent first), then the date of the request. If a bed of the type is free, it is "
    "offered at once.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def join_waitlist(
    data: WaitlistIn,
    request: Request,
    session: Session,
    principal: BedHoldsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> WaitlistOut:
    return await flows.join_waitlist(request, session, principal, data)


@router.get(
    "/waitlist",
    response_model=list[WaitlistOut],
    summary="The waitlist for a bed type",
    description="Entries you may see, those waiting first in the order beds will be offered (`position`), "
    "then offered, admitted, lapsed and withdrawn ones. An offer past its deadline reads "
    "`lapsed` even before the settle job has passed the bed on.",
    responses=problem_responses(401, 403, 422),
)
async def list_waitlist(
    session: Session, principal: AdmissionsReader, bed_type: BedType, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[WaitlistOut]:
    return await waitlist.list_waitlist(session, principal, bed_type=bed_type, limit=limit)


@router.get(
    "/waitlist/{entry_id}",
    response_model=WaitlistOut,
    summary="One waitlist entry",
    description="Priority facts, status, position while waiting, and the offer hold with its deadline.",
    responses=problem_responses(401, 403, 404),
)
async def get_waitlist_entry(entry_id: int, session: Session, principal: AdmissionsReader) -> WaitlistOut:
    return await waitlist.get_waitlist_entry(session, principal, entry_id)


@router.post(
    "/waitlist/{entry_id}/withdraw",
    response_model=WaitlistOut,
    summary="Leave the waitlist",
    description="Withdraws a waiting entry (轮候撤回); an offer is declined by releasing its hold instead.",
    responses=problem_responses(401, 403, 404, 409),
)
async def withdraw(entry_id: int, session: Session, principal: BedHoldsWriter) -> WaitlistOut:
    return await waitlist.withdraw(session, principal, entry_id)


@router.post(
    "/waitlist/settle",
    summary="Pass lapsed offers on (job)",
    description="Marks offers past their deadline lapsed and offers every free bed to the next person "
    "waiting for its type. Discharges and releases already do this for their bed; this catches "
    "offers that lapsed with nobody touching the bed. The worker runs it for the whole city "
    "every 5 minutes (job `waitlist.settle`); this runs it now. Safe to run any number of times.",
    responses=problem_responses(401, 403),
)
async def settle(request: Request, session: Session, _principal: BedsWriter) -> dict:
    return await waitlist.settle_waitlist(session, offer_hours=_settings(request).bed_offer_hours)
