import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from services.eldercare.jobs import tasks
from services.eldercare.meals import flows, service
from services.eldercare.meals.auth import (
    CanteensReader,
    CanteensWriter,
    MealOrdersReader,
    MealOrdersWriter,
    MealSubsidiesWriter,
)
from services.eldercare.meals.models import Canteen
from services.eldercare.meals.schemas import (
    CanteenIn,
    CanteenKind,
    CanteenOut,
    Meal,
    MealOrderIn,
    MealOrderOut,
    MenuIn,
    MenuOut,
    MenuPublishedOut,
    SubsidyRateIn,
    SubsidyRateOut,
    SubsidyRatesInForce,
)
from shared import clock
from shared.addresses import (
    AddressChangeIn,
    enqueue_if_pending,
    give_address_again,
    placenames_of,
    staff_record,
    standardise_input,
)
from shared.areas import CITY_CODE, DISTRICT_OR_CITY_PATTERN, DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import InvalidInput, problem_responses
from shared.idempotency import IdempotencyKeyHeader
from shared.pagination import Page, PageParams, page_of, page_params
from shared.params import IsoDate

router = APIRouter(tags=["meal aid 老年助餐"])

AreaQuery = Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)]


@router.post(
    "/canteens",
    status_code=201,
    response_model=CanteenOut,
    summary="Register a canteen",
    description="Registers a 中央厨房 (central kitchen), 老年食堂/助餐服务中心 (canteen) or 助餐点 (meal point) in "
    "the caller's area, with the areas it delivers to (送餐范围) and the order cut-off of each "
    "meal. Its place is a standard address (`address_code`) or free text standardised through placenames "
    "(`address`), which gives its division and position (see `POST /elders`); while placenames cannot be "
    "reached it is `pending`.",
    responses=problem_responses(401, 403, 422, 503),
)
async def create_canteen(data: CanteenIn, request: Request, session: Session, principal: CanteensWriter) -> CanteenOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(
        placenames_of(request.app), principal, data, latitude=data.latitude, longitude=data.longitude
    )
    canteen = await service.create_canteen(session, principal, data, address)
    await enqueue_if_pending(session, tasks, address)
    return service.canteen_out(canteen)


@router.put(
    "/canteens/{canteen_id}/address",
    response_model=CanteenOut,
    summary="Give a canteen's address again",
    description="A standard address code or free text, as at registration (an `unresolved` address, a move): "
    "the division and position follow. Staff of the canteen's area, and the new address must lie in theirs.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change_canteen_address(
    canteen_id: int, data: AddressChangeIn, request: Request, session: Session, principal: CanteensWriter
) -> CanteenOut:
    load = staff_record(session, principal, Canteen, canteen_id, "canteen")
    return service.canteen_out(await give_address_again(request, session, principal, data, tasks, load))


@router.get(
    "/canteens",
    response_model=Page[CanteenOut],
    summary="Find canteens",
    description="Active canteens, filtered by area (a district or street code), kind, or an area they "
    "deliver to (`delivers_to`: the person's street or community code).",
    responses=problem_responses(401, 403, 422),
)
async def list_canteens(
    session: Session,
    _principal: CanteensReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: AreaQuery = None,
    kind: CanteenKind | None = None,
    delivers_to: AreaQuery = None,
) -> Page[CanteenOut]:
    rows = await service.list_canteens(session, page, area_code=area_code, kind=kind, delivers_to=delivers_to)
    return page_of([service.canteen_out(c) for c in rows], page, key=lambda c: c.id)


@router.get(
    "/canteens/{canteen_id}",
    response_model=CanteenOut,
    summary="One canteen",
    description="Kind, supplier (供餐单位), address, delivery areas (送餐范围) and the order cut-off of each meal.",
    responses=problem_responses(401, 403, 404),
)
async def get_canteen(canteen_id: int, session: Session, _principal: CanteensReader) -> CanteenOut:
    return service.canteen_out(await service.get_canteen(session, canteen_id))


@router.post(
    "/canteens/{canteen_id}/menus",
    status_code=201,
    response_model=MenuPublishedOut,
    summary="Publish a menu",
    description="The dishes, price (fen, before subsidy) and daily capacity (每日份数) of one meal on one "
    "day. The order cut-off comes from the canteen's rule for that meal. One menu per canteen, "
    "day and meal: a second is a 409 naming the first. A central kitchen (中央厨房) or canteen "
    "(老年食堂) may publish the same menu at the canteens and meal points (助餐点) it supplies "
    "(`points`), all or none: each gets a menu of its own with its own capacity (default: this "
    "one's) and cut-off, so orders at a point stop at that point's capacity.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_menu(canteen_id: int, data: MenuIn, session: Session, principal: CanteensWriter) -> MenuPublishedOut:
    menu, point_menus = await service.create_menu(session, principal, canteen_id, data)
    return MenuPublishedOut(**service.menu_out(menu).model_dump(), points=[service.menu_out(m) for m in point_menus])


@router.get(
    "/canteens/{canteen_id}/menus",
    response_model=list[MenuOut],
    summary="A canteen's menus",
    description="Menus between `from` and `to` (default: today and tomorrow, Asia/Shanghai), with the "
    "places left and whether ordering is still open. At most 200.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_menus(
    canteen_id: int,
    session: Session,
    _principal: CanteensReader,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
    meal: Meal | None = None,
) -> list[MenuOut]:
    start = date_from or clock.today()
    end = date_to or start + dt.timedelta(days=1)
    if end < start:
        raise InvalidInput("to", "must not be before `from`", location="query")
    menus = await service.list_menus(session, canteen_id, date_from=start, date_to=end, meal=meal)
    return [service.menu_out(m) for m in menus]


@router.get(
    "/meal-subsidy-rates",
    response_model=SubsidyRatesInForce,
    summary="Meal subsidy rates in force",
    description="Per tier (特困 tekun, 低保 dibao, 低保边缘 dibao_marginal, 80+ age_80_plus, 60–79 age_60_79, "
    "残疾 disability), the subsidy per meal in force on `as_of` (default today) in `district`: "
    "the district's own version when it has one, else the city-wide (330200) one.",
    responses=problem_responses(401, 403, 422),
)
async def rates_in_force(
    session: Session,
    _principal: CanteensReader,
    as_of: IsoDate | None = None,
    district: Annotated[str, Query(pattern=DISTRICT_OR_CITY_PATTERN)] = CITY_CODE,
) -> SubsidyRatesInForce:
    day = as_of or clock.today()
    rates = await service.rates_in_force(session, as_of=day, district_code=district)
    items = [SubsidyRateOut.model_validate(r) for r in sorted(rates.values(), key=lambda r: r.tier)]
    return SubsidyRatesInForce(as_of=day, district_code=district, items=items)


@router.post(
    "/meal-subsidy-rates",
    status_code=201,
    response_model=SubsidyRateOut,
    summary="Add a version of a meal subsidy rate",
    description="A new dated version, city-wide or for one district; earlier versions are never changed, so "
    "every order names the version that priced it. City-level staff (330200) only.",
    responses=problem_responses(401, 403, 409, 422),
)
async def add_rate(data: SubsidyRateIn, session: Session, principal: MealSubsidiesWriter) -> SubsidyRateOut:
    return SubsidyRateOut.model_validate(await service.add_rate(session, principal, data))


@router.post(
    "/meal-orders",
    status_code=201,
    response_model=MealOrderOut,
    summary="Order a meal",
    description="Orders one meal (dine-in 堂食, pick-up 自取 or delivery 送餐) for a person the caller may "
    "act for, before the menu's cut-off. The place is taken with a conditional update, so a "
    "menu is never oversold: when none is left the answer is 409 naming the menu. The price is "
    "the menu price minus the best subsidy tier that applies (特困, 低保, 低保边缘, disability "
    "from the assistance service; else 80+ or 60–79). When assistance has not answered within "
    "300 ms in all (a failed try is retried once within that time, never beyond it), a status it "
    "gave within 24 h is used, or else the age tier, and the order says "
    "`pricing_basis: fallback`. A resident holds at most a set number of live orders a day across "
    "the people they act for (409 `/problems/quota-reached`, resource "
    "`quotas/meal_orders_per_day`). Safe to retry with an `Idempotency-Key`.",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def place_order(
    data: MealOrderIn,
    request: Request,
    principal: MealOrdersWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MealOrderOut:
    return await flows.order_meal(request, principal, data, key=idempotency_key)


@router.get(
    "/meal-orders",
    response_model=Page[MealOrderOut],
    summary="Meal orders you may see",
    description="Newest first. Staff see orders of people in their area; residents those of the people they care for.",
    responses=problem_responses(401, 403, 422),
)
async def list_orders(
    session: Session,
    principal: MealOrdersReader,
    page: Annotated[PageParams, Depends(page_params)],
    elder_id: int | None = None,
    served_on: IsoDate | None = None,
    canteen_id: int | None = None,
    status: Literal["placed", "cancelled"] | None = None,
) -> Page[MealOrderOut]:
    rows = await service.list_orders(
        session, principal, page, elder_id=elder_id, served_on=served_on, canteen_id=canteen_id, status=status
    )
    return page_of([service.order_out(*r) for r in rows], page, key=lambda o: o.id)


@router.get(
    "/meal-orders/{order_id}",
    response_model=MealOrderOut,
    summary="One meal order",
    description="The order with its price, subsidy tier and pricing basis; 404 for orders of people you may not see.",
    responses=problem_responses(401, 403, 404),
)
async def get_order(order_id: int, session: Session, principal: MealOrdersReader) -> MealOrderOut:
    return service.order_out(*await service.get_order(session, principal, order_id))


@router.post(
    "/meal-orders/{order_id}/cancel",
    response_model=MealOrderOut,
    summary="Cancel a meal order",
    description="Before the menu's cut-off, cancels the order and gives its place back. After the cut-off "
    "it is a 400; a second cancellation is a 409.",
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def cancel_order(order_id: int, session: Session, principal: MealOrdersWriter) -> MealOrderOut:
    return service.order_out(*await service.cancel_order(session, principal, order_id))
