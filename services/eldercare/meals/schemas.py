import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator

from services.eldercare.meals.models import MAX_MEAL_PRICE_FEN, MAX_PORTIONS
from shared.addresses import AddressIn, AddressOut
from shared.areas import CITY_CODE, DISTRICT_OR_CITY_PATTERN, AreaCode
from shared.idnumbers import MobilePhone
from shared.money import count, fen
from shared.schemas import Schema

Meal = Literal["breakfast", "lunch", "dinner"]
CanteenKind = Literal["central_kitchen", "canteen", "meal_point"]
Fulfilment = Literal["dine_in", "pick_up", "delivery"]
SubsidyTier = Literal["tekun", "dibao", "dibao_marginal", "age_80_plus", "age_60_79", "disability"]
DistrictOrCity = Annotated[
    str,
    Field(
        pattern=DISTRICT_OR_CITY_PATTERN,
        examples=[CITY_CODE],
        description="330200 (city-wide) or a district of Ningbo, e.g. 330212 鄞州区",
    ),
]


# A wall-clock time to the minute (Asia/Shanghai is implied), described as HH:MM: `format: time` would demand an
# offset, which neither a caller nor the service's own answers carry.
MinuteTime = Annotated[
    dt.time,
    WithJsonSchema({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$", "examples": ["10:00"]}),
]


class Cutoff(Schema):
    """When ordering for a meal closes: `time` (Asia/Shanghai) on the day served, or `days_before` it."""

    model_config = ConfigDict(extra="forbid")
    days_before: int = Field(0, ge=0, le=2, examples=[0])
    time: MinuteTime

    @field_validator("time")
    @classmethod
    def _naive_minutes(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None or value.second or value.microsecond:
            raise ValueError("give a local time to the minute, e.g. 10:00")
        return value


DEFAULT_CUTOFFS: dict[str, Cutoff] = {
    "breakfast": Cutoff(days_before=1, time=dt.time(20, 0)),
    "lunch": Cutoff(time=dt.time(10, 0)),
    "dinner": Cutoff(time=dt.time(15, 0)),
}


class CanteenIn(AddressIn):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100, examples=["百丈街道老年食堂"])
    kind: CanteenKind = Field(description="central_kitchen 中央厨房, canteen 老年食堂/助餐服务中心, meal_point 助餐点")
    supplied_by: int | None = Field(
        None,
        gt=0,
        description="The kitchen or canteen whose meals it serves (供餐单位), "
        "always of a higher level: a meal point (助餐点) has one, a central kitchen "
        "(中央厨房) or a canteen (老年食堂); a canteen may have a central kitchen; a central "
        "kitchen has none",
    )
    latitude: float | None = Field(
        None, ge=-90, le=90, description="The canteen's position, used only when its standard address has none"
    )
    longitude: float | None = Field(None, ge=-180, le=180)
    phone: MobilePhone | None = None
    delivery_area_codes: list[AreaCode] = Field(
        default_factory=list,
        max_length=50,
        description="Divisions in force it delivers to (送餐范围); empty: no delivery. A person's own division, "
        "derived from their standard address, decides whether an order may be delivered",
    )
    cutoffs: dict[Meal, Cutoff] = Field(
        default_factory=dict,
        description="Order cut-off per meal; a meal not "
        "given keeps the default (breakfast 20:00 the day before, lunch 10:00, "
        "dinner 15:00)",
    )


class CanteenOut(AddressOut):
    id: int
    name: str
    kind: CanteenKind = Field(description="central_kitchen 中央厨房, canteen 老年食堂/助餐服务中心, meal_point 助餐点")
    supplied_by: int | None = Field(description="The kitchen or canteen whose meals it serves; none: it cooks")
    phone: str | None = Field(description="The canteen's public contact number")
    delivers: bool
    delivery_area_codes: list[str]
    cutoffs: dict[Meal, Cutoff]
    is_active: bool
    created_at: dt.datetime


class PointMenuIn(Schema):
    model_config = ConfigDict(extra="forbid")
    canteen_id: int = Field(gt=0, description="A canteen or meal point supplied by the one publishing the menu")
    capacity: int | None = count(
        "Portions this point can serve (每日份数); default: the supplier's capacity",
        minimum=1,
        maximum=MAX_PORTIONS,
        default=None,
    )


class MenuIn(Schema):
    model_config = ConfigDict(extra="forbid")
    served_on: dt.date = Field(description="The day the meal is served (Asia/Shanghai); today or later")
    meal: Meal
    dishes: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        min_length=1, max_length=20, examples=[["红烧鱼", "青菜", "米饭"]]
    )
    price_fen: int = fen("Full price of one portion, before subsidy", maximum=MAX_MEAL_PRICE_FEN, examples=[1500])
    capacity: int = count("Portions the canteen can serve (每日份数)", minimum=1, maximum=MAX_PORTIONS)
    points: list[PointMenuIn] = Field(
        default_factory=list,
        max_length=50,
        description="Canteens and meal points "
        "this one supplies (their `supplied_by`) that serve the same menu: each gets "
        "its own menu, with its own capacity and its own cut-off, in the same request",
    )


class MenuOut(Schema):
    id: int
    canteen_id: int
    served_on: dt.date
    meal: Meal
    dishes: list[str]
    price_fen: int
    capacity: int
    remaining: int = Field(description="Places still free")
    cutoff_at: dt.datetime = Field(description="Orders and cancellations are accepted until this instant")
    ordering_open: bool


class MenuPublishedOut(MenuOut):
    points: list[MenuOut] = Field(description="The same menu at the points it was published to")


class SubsidyRateIn(Schema):
    """A new dated version of the per-meal subsidy for one tier. It never changes an earlier one."""

    model_config = ConfigDict(extra="forbid")
    tier: SubsidyTier
    district_code: DistrictOrCity = CITY_CODE
    amount_fen: int = fen("Subsidy per meal (one portion)", maximum=MAX_MEAL_PRICE_FEN, examples=[500])
    effective_on: dt.date
    citation: str = Field(min_length=2, max_length=2000, description="The document that sets the amount")
    is_assumption: bool = Field(False, description="True when no source gives the amount")


class SubsidyRateOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tier: SubsidyTier
    district_code: str
    amount_fen: int
    effective_on: dt.date
    citation: str
    is_assumption: bool
    created_at: dt.datetime


class SubsidyRatesInForce(Schema):
    as_of: dt.date
    district_code: str
    items: list[SubsidyRateOut]


class MealOrderIn(Schema):
    model_config = ConfigDict(extra="forbid")
    menu_id: int = Field(gt=0)
    elder_id: int = Field(gt=0, description="The older person the meal is for")
    fulfilment: Fulfilment = Field(description="dine_in 堂食, pick_up 自取, delivery 送餐上门")
    quantity: int = Field(
        1,
        ge=1,
        le=3,
        strict=True,
        description="Portions; the subsidy applies to one, the others (e.g. for a spouse) are at full price",
    )
    delivery_address: str | None = Field(
        None, min_length=2, max_length=200, description="For delivery; default: the person's home address"
    )


class MealOrderOut(Schema):
    id: int
    menu_id: int
    canteen_id: int
    canteen_name: str
    served_on: dt.date
    meal: Meal
    elder_id: int
    fulfilment: Fulfilment
    delivery_address: str | None
    quantity: int
    unit_price_fen: int
    subsidy_fen: int
    payable_fen: int = Field(description="What the person pays: price × quantity − subsidy")
    subsidy_tier: SubsidyTier | None
    subsidy_rate_id: int | None = Field(description="The subsidy version that priced the order")
    pricing_basis: Literal["live", "fallback"] = Field(
        description="live: assistance answered; fallback: it did not (slow or down), so a status it gave within "
        "24 h was used, or else only the age tier"
    )
    status_source: Literal["assistance", "cache", "none"]
    status: Literal["placed", "cancelled"]
    cutoff_at: dt.datetime
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
