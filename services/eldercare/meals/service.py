"""Meal aid (老年助餐): canteens, menus with a place count, subsidised prices, orders and cancellations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, null, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare import notices
from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.elders.models import AssistanceStatus, Elder
from services.eldercare.elders.service import age_of, visible_to
from services.eldercare.meals.models import SUPPLIER_KINDS, Canteen, MealOrder, MealSubsidyRate, Menu
from services.eldercare.meals.schemas import (
    DEFAULT_CUTOFFS,
    CanteenIn,
    CanteenOut,
    Cutoff,
    MealOrderIn,
    MealOrderOut,
    MenuIn,
    MenuOut,
    SubsidyRateIn,
)
from services.eldercare.peers import AssistanceFacts, elder_with_status, no_such_elder, status_params
from services.eldercare.quotas import check_meal_orders, meal_orders_held
from shared import clock
from shared.addresses import AddressValues, address_out
from shared.areas import CITY_CODE, area_prefix, within_area
from shared.db import Columns, Database, PerCaller, get_or_404, read_row, utcnow
from shared.direct import Inserter, Link
from shared.divisions import is_current
from shared.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from shared.idempotency import key_params, key_used
from shared.identity import Principal
from shared.metrics import count_after_commit
from shared.pagination import PageParams, keyset
from shared.programmes import ProgrammeCode
from shared.stamped import StampedCache

# Programmes of the assistance service that put a person in a subsidy tier.
PROGRAMME_TIERS: dict[ProgrammeCode, str] = {
    "tekun": "tekun",
    "dibao": "dibao",
    "dibao_marginal": "dibao_marginal",
    "disability_living_subsidy": "disability",
    "disability_care_subsidy": "disability",
}


# ---- canteens and menus ----------------------------------------------------------------------------------


def cutoff_minutes_of(cutoff: Cutoff) -> int:
    return -cutoff.days_before * 1440 + cutoff.time.hour * 60 + cutoff.time.minute


def _cutoff(minutes: int) -> Cutoff:
    days_before, in_day = (-(minutes // 1440), minutes % 1440) if minutes < 0 else (0, minutes)
    return Cutoff(days_before=days_before, time=dt.time(in_day // 60, in_day % 60))


def cutoff_instant(served_on: dt.date, minutes: int) -> dt.datetime:
    midnight = dt.datetime.combine(served_on, dt.time(0), tzinfo=clock.SHANGHAI)
    return (midnight + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


def canteen_out(canteen: Canteen) -> CanteenOut:
    """Not a 1:1 mapping: turns the stored minutes back into cut-offs, and tells whether the canteen delivers."""
    return CanteenOut(
        id=canteen.id,
        name=canteen.name,
        kind=canteen.kind,
        supplied_by=canteen.supplied_by_id,
        **address_out(canteen),
        phone=canteen.phone,
        delivers=bool(canteen.delivery_area_codes),
        delivery_area_codes=canteen.delivery_area_codes,
        cutoffs={meal: _cutoff(m) for meal, m in canteen.cutoff_minutes.items()},
        is_active=canteen.is_active,
        created_at=canteen.created_at,
    )


def menu_out(menu: Menu) -> MenuOut:
    """Not a 1:1 mapping: tells whether ordering is still open now."""
    return MenuOut(
        id=menu.id,
        canteen_id=menu.canteen_id,
        served_on=menu.served_on,
        meal=menu.meal,
        dishes=menu.dishes,
        price_fen=menu.price_fen,
        capacity=menu.capacity,
        remaining=menu.remaining,
        cutoff_at=menu.cutoff_at,
        ordering_open=utcnow() < menu.cutoff_at and menu.remaining > 0,
    )


async def _supplier_of(session: AsyncSession, data: CanteenIn) -> Canteen | None:
    """The kitchen or canteen that supplies a new one: always of a higher level (中央厨房 → 老年食堂 → 助餐点)."""
    allowed = SUPPLIER_KINDS[data.kind]
    if data.supplied_by is None:
        if data.kind == "meal_point":
            raise InvalidInput(
                "supplied_by",
                "a meal point (助餐点) serves the meals of a central kitchen or a "
                "canteen: give the id of the one that supplies it",
            )
        return None
    if not allowed:
        raise InvalidInput("supplied_by", "a central kitchen (中央厨房) cooks its own meals and has no supplier")
    supplier = await session.get(Canteen, data.supplied_by)
    if supplier is None or not supplier.is_active:
        raise InvalidInput("supplied_by", "no active canteen {supplied_by}", supplied_by=data.supplied_by)
    if supplier.kind not in allowed:
        raise InvalidInput(
            "supplied_by",
            "a {kind} is supplied by a {allowed}, not by a {supplier_kind} (canteen {supplier_id})",
            kind=data.kind,
            allowed=" or a ".join(allowed),
            supplier_kind=supplier.kind,
            supplier_id=supplier.id,
        )
    return supplier


async def check_new_canteen(session: AsyncSession, data: CanteenIn) -> Canteen | None:
    """The rules a new canteen must pass before anything is written, beyond its address (the create route and a
    spreadsheet import): its delivery areas in force, its supplier; returns the supplier."""
    for index, code in enumerate(data.delivery_area_codes):
        if not is_current(code):
            raise InvalidInput(f"delivery_area_codes.{index}", "{code_} is not a division in force", code_=code)
    return await _supplier_of(session, data)


async def create_canteen(
    session: AsyncSession, principal: Principal, data: CanteenIn, address: AddressValues
) -> Canteen:
    """`address`: the address as `shared.addresses.standardise_input` found it (the caller's area checked)."""
    supplier = await check_new_canteen(session, data)
    cutoffs = DEFAULT_CUTOFFS | data.cutoffs
    canteen = Canteen(
        name=data.name,
        kind=data.kind,
        supplied_by_id=supplier.id if supplier else None,
        supplier_kind=supplier.kind if supplier else None,
        **address.values,
        phone=data.phone,
        delivery_area_codes=sorted(set(data.delivery_area_codes)),
        cutoff_minutes={meal: cutoff_minutes_of(c) for meal, c in cutoffs.items()},
        is_active=True,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(canteen)
    await session.flush()
    return canteen


async def create_canteens(
    session: AsyncSession, principal: Principal, items: list[tuple[CanteenIn, AddressValues]]
) -> list[bool]:
    """Canteens from a spreadsheet, each through `create_canteen`: one already recorded under the same name, kind
    and area is skipped (False), so the same rows sent again create nothing."""
    created = []
    for data, address in items:
        area = address.values["area_code"]
        present = await session.scalar(
            select(Canteen.id).where(Canteen.name == data.name, Canteen.kind == data.kind, Canteen.area_code == area)
        )
        if present is None:
            await create_canteen(session, principal, data, address)
        created.append(present is None)
    return created


def _delivers_to(canteen: Canteen, area_code: str) -> bool:
    return any(area_code.startswith(area_prefix(code)) for code in canteen.delivery_area_codes)


async def list_canteens(
    session: AsyncSession, page: PageParams, *, area_code: str | None, kind: str | None, delivers_to: str | None
) -> list[Canteen]:
    """Canteens are public information: anyone with the read scope may browse all of them."""
    query = keyset(select(Canteen).where(Canteen.is_active.is_(True)), Canteen.id, page)
    if area_code:
        query = query.where(within_area(Canteen.area_code, area_code))
    if kind:
        query = query.where(Canteen.kind == kind)
    if delivers_to is None:
        return list(await session.scalars(query))
    # Delivery areas are a short JSON list per canteen; filtering them in Python keeps one query for both
    # databases. Pages are filled by reading on (no limit) until enough match.
    found: list[Canteen] = []
    async for canteen in await session.stream_scalars(query.limit(None)):
        if _delivers_to(canteen, delivers_to):
            found.append(canteen)
            if len(found) > page.limit:
                break
    return found


async def get_canteen(session: AsyncSession, canteen_id: int) -> Canteen:
    return await get_or_404(session, Canteen, canteen_id, "no canteen {canteen_id}", canteen_id=canteen_id)


def _menu_of(canteen: Canteen, data: MenuIn, capacity: int) -> Menu:
    return Menu(
        canteen_id=canteen.id,
        served_on=data.served_on,
        meal=data.meal,
        dishes=data.dishes,
        price_fen=data.price_fen,
        capacity=capacity,
        remaining=capacity,
        cutoff_at=cutoff_instant(data.served_on, canteen.cutoff_minutes[data.meal]),
        created_at=utcnow(),
    )


async def _no_menu_yet(session: AsyncSession, canteen_id: int, data: MenuIn) -> None:
    existing = await session.scalar(
        select(Menu.id).where(Menu.canteen_id == canteen_id, Menu.served_on == data.served_on, Menu.meal == data.meal)
    )
    if existing is not None:
        raise Conflict(
            "canteen {canteen_id} already has a {meal} menu on {served_on}",
            resource=f"menus/{existing}",
            canteen_id=canteen_id,
            meal=data.meal,
            served_on=data.served_on.isoformat(),
        )


async def create_menu(
    session: AsyncSession, principal: Principal, canteen_id: int, data: MenuIn
) -> tuple[Menu, list[Menu]]:
    """The canteen's menu and, in the same transaction, the same menu at each point it supplies that is named
    (`points`): each a menu of its own, with its own places, so orders at a point stop at that point's capacity."""
    canteen = await get_canteen(session, canteen_id)
    if not principal.covers(canteen.area_code):
        raise Forbidden("canteen {canteen_id} is outside your area {area}", canteen_id=canteen_id, area=principal.area)
    if data.served_on < clock.today():
        raise InvalidInput("served_on", "menus are published for today or a later day")
    if data.served_on > clock.today() + dt.timedelta(days=60):
        raise InvalidInput("served_on", "menus are published at most 60 days ahead")
    await _no_menu_yet(session, canteen_id, data)
    menus = [_menu_of(canteen, data, data.capacity)]
    seen: set[int] = set()
    for i, point_in in enumerate(data.points):
        field = f"points.{i}.canteen_id"
        if point_in.canteen_id in seen:
            raise InvalidInput(field, "canteen {canteen_id} is named twice", canteen_id=point_in.canteen_id)
        seen.add(point_in.canteen_id)
        point = await session.get(Canteen, point_in.canteen_id)
        if point is None or not point.is_active or point.supplied_by_id != canteen_id:
            raise InvalidInput(
                field,
                "canteen {canteen_id} is not an active canteen or meal point supplied by canteen {canteen_id2}",
                canteen_id=point_in.canteen_id,
                canteen_id2=canteen_id,
            )
        if not principal.covers(point.area_code):
            raise Forbidden("canteen {point_id} is outside your area {area}", point_id=point.id, area=principal.area)
        await _no_menu_yet(session, point.id, data)
        menus.append(_menu_of(point, data, point_in.capacity or data.capacity))
    session.add_all(menus)
    try:
        await session.flush()
    except IntegrityError:  # a menu for the same canteen, day and meal committed since the check above
        raise Conflict(
            "a {meal} menu on {served_on} was published meanwhile at one of these canteens",
            meal=data.meal,
            served_on=data.served_on.isoformat(),
        ) from None
    return menus[0], menus[1:]


async def list_menus(
    session: AsyncSession, canteen_id: int, *, date_from: dt.date, date_to: dt.date, meal: str | None
) -> list[Menu]:
    await get_canteen(session, canteen_id)
    query = (
        select(Menu)
        .where(Menu.canteen_id == canteen_id, Menu.served_on >= date_from, Menu.served_on <= date_to)
        .order_by(Menu.served_on, Menu.meal)
        .limit(200)
    )
    if meal:
        query = query.where(Menu.meal == meal)
    return list(await session.scalars(query))


# ---- subsidy rates ---------------------------------------------------------------------------------------


async def add_rate(session: AsyncSession, principal: Principal, data: SubsidyRateIn) -> MealSubsidyRate:
    if not principal.is_city_staff:
        raise Forbidden("meal subsidy rates are set by city-level staff of the bureau (area 330200)")
    existing = await session.scalar(
        select(MealSubsidyRate.id).where(
            MealSubsidyRate.tier == data.tier,
            MealSubsidyRate.district_code == data.district_code,
            MealSubsidyRate.effective_on == data.effective_on,
        )
    )
    if existing is not None:
        raise Conflict(
            "the {tier} rate for {district_code} already has a version effective on {effective_on}; versions are "
            "never rewritten: add one with another date",
            resource=f"meal-subsidy-rates/{existing}",
            tier=data.tier,
            district_code=data.district_code,
            effective_on=data.effective_on.isoformat(),
        )
    rate = MealSubsidyRate(**data.model_dump(), created_by=principal.subject, created_at=utcnow())
    session.add(rate)
    await session.flush()
    return rate


async def rates_in_force(session: AsyncSession, *, as_of: dt.date, district_code: str) -> dict[str, MealSubsidyRate]:
    """Per tier, the latest version on or before `as_of`: the district's own when it has one, else the city's."""
    query = (
        select(MealSubsidyRate)
        .where(MealSubsidyRate.effective_on <= as_of, MealSubsidyRate.district_code.in_({CITY_CODE, district_code}))
        .order_by(MealSubsidyRate.effective_on)
    )
    own: dict[str, MealSubsidyRate] = {}
    city: dict[str, MealSubsidyRate] = {}
    for rate in await session.scalars(query):  # ascending dates: the last one seen is the one in force
        (own if rate.district_code != CITY_CODE else city)[rate.tier] = rate
    return city | own


def tiers_of(age: int, facts: AssistanceFacts) -> list[str]:
    tiers = sorted({PROGRAMME_TIERS[p] for p in facts.programmes if p in PROGRAMME_TIERS})
    tiers.append("age_80_plus" if age >= 80 else "age_60_79")
    return tiers


@dataclass(frozen=True)
class PricingRate:
    """What pricing uses of a rate version in force: plain values, so they may be kept across requests."""

    id: int
    tier: str
    amount_fen: int


def best_subsidy(rates: tuple[PricingRate, ...], tiers: list[str], price_fen: int) -> tuple[PricingRate | None, int]:
    """Tiers do not add up: the person gets the most generous one that applies, never more than the price."""
    candidates = [r for r in rates if r.tier in tiers]
    if not candidates:
        return None, 0
    best = max(candidates, key=lambda r: r.amount_fen)
    return best, min(best.amount_fen, price_fen)


# ---- orders ----------------------------------------------------------------------------------------------


def order_out(order: MealOrder, menu: Menu, canteen: Canteen) -> MealOrderOut:
    """Not a 1:1 mapping: joins the order with its menu and canteen."""
    return MealOrderOut(
        id=order.id,
        menu_id=menu.id,
        canteen_id=canteen.id,
        canteen_name=canteen.name,
        served_on=menu.served_on,
        meal=menu.meal,
        elder_id=order.elder_id,
        fulfilment=order.fulfilment,
        delivery_address=order.delivery_address,
        quantity=order.quantity,
        unit_price_fen=order.unit_price_fen,
        subsidy_fen=order.subsidy_fen,
        payable_fen=order.payable_fen,
        subsidy_tier=order.subsidy_tier,
        subsidy_rate_id=order.subsidy_rate_id,
        pricing_basis=order.pricing_basis,
        status_source=order.status_source,
        status=order.status,
        cutoff_at=menu.cutoff_at,
        created_at=order.created_at,
        cancelled_at=order.cancelled_at,
    )


@dataclass(frozen=True)
class OrderContext:
    """What an order needs, read in one statement before its transaction (`read_before_order`)."""

    elder: Elder
    cached_status: AssistanceStatus | None  # the person's recent status, the fallback when assistance is down
    menu: Menu | None
    canteen: Canteen | None
    existing: int | None  # the person's live order for the menu
    key_used: bool  # the request's Idempotency-Key was claimed before
    held: int | None  # a resident's live orders for the menu's day (read without the quota's lock)
    rates_stamp: tuple  # changes whenever a subsidy rate is added (see `_rates_for`)


# What an order uses of the person (not their phone and contacts, which would be decrypted for nothing), their
# cached status, the menu and its canteen: labelled columns, rebuilt as plain instances (shared.db.Columns).
_ELDER = Columns(Elder, "elder_", only=("id", "id_number", "birth_on", "area_code", "address"))
_STATUS = Columns(AssistanceStatus, "status_")
_MENU = Columns(Menu, "menu_")
_CANTEEN = Columns(Canteen, "canteen_")


def _read_before_order(principal: Principal, with_key: bool) -> Select:
    live_order = (
        select(MealOrder.id)
        .where(MealOrder.menu_id == Menu.id, MealOrder.elder_id == Elder.id, MealOrder.status == "placed")
        .limit(1)
        .scalar_subquery()
    )
    rates = select(
        func.count().label("count"),
        func.max(MealSubsidyRate.id).label("last_id"),
        func.max(MealSubsidyRate.created_at).label("last_at"),
    ).subquery()
    claimed = key_used(IDEMPOTENCY_KEYS) if with_key else null()
    held = (
        meal_orders_held(principal.subject, Menu.served_on).scalar_subquery()
        if principal.kind == "resident"
        else null()
    )
    return (
        elder_with_status(principal)
        .outerjoin(Menu, Menu.id == bindparam("menu_id"))
        .outerjoin(Canteen, Canteen.id == Menu.canteen_id)
        .join(rates, true())
        .with_only_columns(
            *_ELDER.columns,
            *_STATUS.columns,
            *_MENU.columns,
            *_CANTEEN.columns,
            live_order.label("existing"),
            claimed.label("key_id"),
            held.label("held"),
            rates.c.count,
            rates.c.last_id,
            rates.c.last_at,
        )
    )


_before_order = PerCaller(_read_before_order)


async def read_before_order(
    database: Database, principal: Principal, data: MealOrderIn, *, key: str | None, cache_hours: int
) -> OrderContext:
    """The person the caller may act for (404 otherwise) with their cached status, the menu with its canteen, the
    person's live order for it, whether the Idempotency-Key was used, a resident's orders for that day and the
    stamp of the subsidy rates: one Core statement, outside any transaction (see shared.db.read_row)."""
    params = status_params(data.elder_id, cache_hours) | {"menu_id": data.menu_id}
    if key is not None:
        params |= key_params(principal, key)
    row = await read_row(database, _before_order(principal, key is not None), params)
    if row is None:
        raise no_such_elder(data.elder_id)
    elder = _ELDER.of(row)
    assert elder is not None  # the statement's first table: no row without it
    return OrderContext(
        elder,
        _STATUS.of(row),
        _MENU.of(row),
        _CANTEEN.of(row),
        row["existing"],
        row["key_id"] is not None,
        row["held"],
        (row["count"], row["last_id"], row["last_at"]),
    )


def _menu_label(menu: Menu) -> str:
    return f"menu {menu.id} ({menu.meal} on {menu.served_on.isoformat()})"


def _sold_out(menu: Menu, canteen: Canteen) -> Conflict:
    return Conflict(
        "{menu} at canteen {canteen_id} is sold out",
        resource=f"menus/{menu.id}",
        menu=_menu_label(menu),
        canteen_id=canteen.id,
    )


def _check_order(context: OrderContext, data: MealOrderIn, now: dt.datetime) -> str | None:
    """The order's rules on what was read, in the order they answer: no menu, a closed canteen, past the cut-off,
    sold out, a delivery the canteen cannot make, a second order for the meal. Returns the delivery address."""
    menu, canteen, elder = context.menu, context.canteen, context.elder
    if menu is None:
        raise NotFound("no menu {menu_id}", menu_id=data.menu_id)
    if not canteen.is_active:
        raise Conflict(
            "canteen {canteen_id} no longer takes orders", resource=f"canteens/{canteen.id}", canteen_id=canteen.id
        )
    if now >= menu.cutoff_at:
        raise BadRequest(
            "ordering for {menu} closed at {cutoff_at}", menu=_menu_label(menu), cutoff_at=menu.cutoff_at.isoformat()
        )
    if menu.remaining < data.quantity:
        # Already gone when read: answer at once instead of queueing for the menu row's lock. The conditional
        # update in `place_order` is what guarantees the count; this only spares the lock in a rush.
        raise _sold_out(menu, canteen)
    address = None
    if data.fulfilment == "delivery":
        if not _delivers_to(canteen, elder.area_code):
            raise BadRequest(
                "canteen {canteen_id} does not deliver to area {area_code}",
                canteen_id=canteen.id,
                area_code=elder.area_code,
            )
        address = data.delivery_address or elder.address
    elif data.delivery_address is not None:
        raise InvalidInput("delivery_address", "only a delivery order has a delivery address")
    if context.existing is not None:
        raise Conflict(
            "this person already has order {existing} for {menu}",
            resource=f"meal-orders/{context.existing}",
            existing=context.existing,
            menu=_menu_label(menu),
        )
    return address


def refuse_early(context: OrderContext, data: MealOrderIn, *, daily_quota: int) -> None:
    """Refuse an order on what was read before its transaction (sold out, above all, in a rush), with the answer
    the transaction would give: nothing is written and a refused order's key is not kept either way.

    Left to the transaction: a request whose Idempotency-Key was used (it replays or is refused as such), and a
    resident at their quota (the quota, counted under its lock, answers first)."""
    if context.key_used or (context.held is not None and context.held >= daily_quota):
        return
    _check_order(context, data, utcnow())


# Subsidy rates in force per (database, day, district), kept under the stamp of the rates table (count, last id,
# last creation time; rates are only ever added): see shared.stamped. Kept as PricingRate values, never as the
# ORM rows: those belong to the session of the request that read them, and would be expired with it when it is
# rolled back (sold out at the conditional update), breaking every later order for that day and district.
_RATES: StampedCache[tuple[PricingRate, ...]] = StampedCache(1000)


_rates = MealSubsidyRate.__table__
# The rate versions that may be in force on a day in a district (the city's and the district's own), oldest first.
_RATES_FROM = (
    select(_rates.c.id, _rates.c.tier, _rates.c.amount_fen, _rates.c.district_code)
    .where(
        _rates.c.effective_on <= bindparam("as_of", type_=_rates.c.effective_on.type),
        _rates.c.district_code.in_([bindparam("city"), bindparam("district")]),
    )
    .order_by(_rates.c.effective_on)
)


async def _rates_for(
    link: Link, database_url: str, stamp: tuple, *, as_of: dt.date, district_code: str
) -> tuple[PricingRate, ...]:
    async def load() -> tuple[PricingRate, ...]:
        own: dict[str, PricingRate] = {}
        city: dict[str, PricingRate] = {}
        rows = await link.rows(_RATES_FROM, {"as_of": as_of, "city": CITY_CODE, "district": district_code})
        for row in rows:  # ascending dates: the last one seen is the one in force (as `rates_in_force`)
            rate = PricingRate(row["id"], row["tier"], row["amount_fen"])
            (own if row["district_code"] != CITY_CODE else city)[rate.tier] = rate
        return tuple((city | own).values())

    return await _RATES.get((database_url, as_of, district_code), stamp, load)


_menus = Menu.__table__
# Built once (a Core statement, so no ORM session synchronisation): never below zero, by the WHERE.
_TAKE_PLACES = (
    update(_menus)
    .where(_menus.c.id == bindparam("menu"), _menus.c.remaining >= bindparam("places"))
    .values(remaining=_menus.c.remaining - bindparam("places"))
)
_ORDERS = Inserter(MealOrder)


async def place_order(
    link: Link,
    principal: Principal,
    data: MealOrderIn,
    context: OrderContext,
    facts: AssistanceFacts,
    *,
    daily_quota: int,
    database_url: str,
) -> tuple[MealOrder, Menu, Canteen]:
    """Price the order, then take a place with one conditional update: the database refuses to go below zero.

    The person, the menu and its canteen were read before this transaction began (`read_before_order`); they are
    not read again. The statements, Core on the transaction's link (shared.direct): a resident's quota (its lock
    and count), the subsidy rates when they changed since this process last read them, the order's insert and the
    place's conditional update.
    """
    await check_meal_orders(link, principal, data.menu_id, daily_quota)
    now = utcnow()
    address = _check_order(context, data, now)
    elder, menu, canteen = context.elder, context.menu, context.canteen
    rates = await _rates_for(
        link, database_url, context.rates_stamp, as_of=menu.served_on, district_code=elder.area_code[:6]
    )
    rate, subsidy = best_subsidy(rates, tiers_of(age_of(elder, menu.served_on), facts), menu.price_fen)
    # A plain instance, never added to a session: what the answer is built from, and the insert's values.
    order = MealOrder(
        menu_id=menu.id,
        elder_id=elder.id,
        fulfilment=data.fulfilment,
        delivery_address=address,
        quantity=data.quantity,
        unit_price_fen=menu.price_fen,
        subsidy_fen=subsidy,
        payable_fen=menu.price_fen * data.quantity - subsidy,
        subsidy_tier=rate.tier if rate else None,
        subsidy_rate_id=rate.id if rate else None,
        pricing_basis="live" if facts.live else "fallback",
        status_source=facts.source,
        status="placed",
        placed_by=principal.subject,
        created_at=now,
        cancelled_at=None,
    )
    try:
        await _ORDERS.add(link, order)
    except IntegrityError:
        # Another order for the same person and meal committed between the read and this insert.
        raise Conflict(
            "this person already has an order for {menu}", resource=f"menus/{menu.id}", menu=_menu_label(menu)
        ) from None
    # Last statement before the commit, so the menu row stays locked for as short a time as possible.
    if await link.run(_TAKE_PLACES, {"menu": menu.id, "places": data.quantity}) != 1:
        raise _sold_out(menu, canteen)
    return order, menu, canteen


def orders_visible_to(principal: Principal) -> Select:
    """The orders of the people the caller may see (the elders' own rule, applied once)."""
    elders = visible_to(principal).with_only_columns(Elder.id)
    return (
        select(MealOrder, Menu, Canteen)
        .join(Menu, Menu.id == MealOrder.menu_id)
        .join(Canteen, Canteen.id == Menu.canteen_id)
        .where(MealOrder.elder_id.in_(elders))
    )


async def get_order(session: AsyncSession, principal: Principal, order_id: int) -> tuple[MealOrder, Menu, Canteen]:
    row = (await session.execute(orders_visible_to(principal).where(MealOrder.id == order_id))).first()
    if row is None:
        raise NotFound("no meal order {order_id} that you may see", order_id=order_id)
    return row[0], row[1], row[2]


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    elder_id: int | None,
    served_on: dt.date | None,
    canteen_id: int | None,
    status: str | None,
) -> list[tuple]:
    query = keyset(orders_visible_to(principal), MealOrder.id, page, descending=True)
    if elder_id is not None:
        query = query.where(MealOrder.elder_id == elder_id)
    if served_on is not None:
        query = query.where(Menu.served_on == served_on)
    if canteen_id is not None:
        query = query.where(Menu.canteen_id == canteen_id)
    if status is not None:
        query = query.where(MealOrder.status == status)
    return [tuple(r) for r in (await session.execute(query)).all()]


async def cancel_order(session: AsyncSession, principal: Principal, order_id: int) -> tuple[MealOrder, Menu, Canteen]:
    order, menu, canteen = await get_order(session, principal, order_id)
    if order.status != "placed":
        raise Conflict(
            "meal order {order_id} is already {order_status}",
            resource=f"meal-orders/{order_id}",
            order_id=order_id,
            order_status=order.status,
        )
    now = utcnow()
    if now >= menu.cutoff_at:
        raise BadRequest(
            "{menu} closed at {cutoff_at}; after the cut-off an order can no longer be cancelled",
            menu=_menu_label(menu),
            cutoff_at=menu.cutoff_at.isoformat(),
        )
    # Conditional on the status, so two cancellations at once give the place back only once.
    cancelled = await session.execute(
        update(MealOrder)
        .where(MealOrder.id == order_id, MealOrder.status == "placed")
        .values(status="cancelled", cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:
        raise Conflict(
            "meal order {order_id} is already cancelled", resource=f"meal-orders/{order_id}", order_id=order_id
        )
    await session.execute(
        update(Menu)
        .where(Menu.id == menu.id)
        .values(remaining=Menu.remaining + order.quantity)
        .execution_options(synchronize_session=False)
    )
    count_after_commit(session, "eldercare", "meal_order_cancelled")
    await notices.meal_cancelled(session, order, principal.subject)
    await session.refresh(order)
    await session.refresh(menu)
    return order, menu, canteen
