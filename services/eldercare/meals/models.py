import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime, bounded
from shared.money import YUAN

MEALS = ("breakfast", "lunch", "dinner")
CANTEEN_KINDS = ("central_kitchen", "canteen", "meal_point")
# Who may supply whom (中央厨房 → 老年食堂 → 助餐点): a supplier is always of a higher level.
SUPPLIER_KINDS = {"central_kitchen": (), "canteen": ("central_kitchen",), "meal_point": ("central_kitchen", "canteen")}
FULFILMENTS = ("dine_in", "pick_up", "delivery")
# A canteen meal for older people costs tens of yuan; a few hundred is far past any menu (助餐 price and subsidy).
MAX_MEAL_PRICE_FEN = 500 * YUAN
MAX_PORTIONS = 10_000  # a menu's capacity: portions one canteen serves at one meal
MAX_ORDER_PORTIONS = 3
SUBSIDY_TIERS = ("tekun", "dibao", "dibao_marginal", "age_80_plus", "age_60_79", "disability")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Canteen(StandardAddress, Base):
    """A place that serves subsidised meals: 中央厨房, 老年食堂 (助餐服务中心) or 助餐点."""

    __tablename__ = "canteens"
    __table_args__ = (
        CheckConstraint(_in("kind", CANTEEN_KINDS), name="kind_known"),
        *address_table_args("canteens"),
        Index("ix_canteens_area_code_id", "area_code", "id"),
        # The supplier's kind is kept beside its id and the pair is the foreign key, so the database itself knows
        # the supplier's level and the CHECK below can refuse a supplier of the same or a lower level.
        UniqueConstraint("id", "kind"),
        ForeignKeyConstraint(
            ["supplied_by_id", "supplier_kind"],
            ["canteens.id", "canteens.kind"],
            name="fk_canteens_supplied_by_id_canteens",
        ),
        CheckConstraint(
            "(supplied_by_id IS NULL AND supplier_kind IS NULL) OR (supplied_by_id IS NOT NULL AND ("
            "(kind = 'canteen' AND supplier_kind = 'central_kitchen') OR "
            "(kind = 'meal_point' AND supplier_kind IN ('central_kitchen', 'canteen'))))",
            name="supplier_of_higher_level",
        ),  # so a central kitchen has none
        CheckConstraint("kind <> 'meal_point' OR supplied_by_id IS NOT NULL", name="meal_point_supplied"),
        Index("ix_canteens_supplied_by_id", "supplied_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    # The kitchen or canteen whose meals it serves; none for a central kitchen (and for a canteen that cooks).
    supplied_by_id: Mapped[int | None] = mapped_column(Integer)
    supplier_kind: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))
    # Division codes the canteen delivers to (a code covers everything below it); empty: no delivery.
    delivery_area_codes: Mapped[list] = mapped_column(JSON, default=list)
    # Order cut-off per meal, in minutes from midnight (Asia/Shanghai) of the day served; negative for the
    # day before (breakfast at 20:00 the evening before is -240).
    cutoff_minutes: Mapped[dict] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Menu(Base):
    """What one canteen serves at one meal of one day, its price and how many places are left."""

    __tablename__ = "menus"
    __table_args__ = (
        bounded("price_fen", 0, MAX_MEAL_PRICE_FEN),
        bounded("capacity", 1, MAX_PORTIONS),
        UniqueConstraint("canteen_id", "served_on", "meal"),
        CheckConstraint(_in("meal", MEALS), name="meal_known"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        # The place count is the invariant: never below zero, never above the capacity.
        CheckConstraint("remaining >= 0 AND remaining <= capacity", name="remaining_within_capacity"),
        Index("ix_menus_served_on", "served_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    canteen_id: Mapped[int] = mapped_column(ForeignKey("canteens.id", ondelete="CASCADE"))
    served_on: Mapped[dt.date] = mapped_column(Date)
    meal: Mapped[str] = mapped_column(String(10))
    dishes: Mapped[list] = mapped_column(JSON, default=list)
    price_fen: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    cutoff_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MealSubsidyRate(Base):
    """One dated version of the per-meal subsidy for a tier, city-wide (330200) or for one district.

    Versions are only added, never rewritten, so an order can always say which version priced it.
    """

    __tablename__ = "meal_subsidy_rates"
    __table_args__ = (
        bounded("amount_fen", 0, MAX_MEAL_PRICE_FEN),
        UniqueConstraint("tier", "district_code", "effective_on"),
        CheckConstraint(_in("tier", SUBSIDY_TIERS), name="tier_known"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[str] = mapped_column(String(20))
    district_code: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(Integer)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    citation: Mapped[str] = mapped_column(Text)
    is_assumption: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MealOrder(Base):
    """An order for one meal: placed, then served or cancelled. The price is fixed when it is placed."""

    __tablename__ = "meal_orders"
    __table_args__ = (
        bounded("unit_price_fen", 0, MAX_MEAL_PRICE_FEN),
        bounded("subsidy_fen", 0, MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN),
        bounded("payable_fen", 0, MAX_ORDER_PORTIONS * MAX_MEAL_PRICE_FEN),
        CheckConstraint(_in("fulfilment", FULFILMENTS), name="fulfilment_known"),
        CheckConstraint("status IN ('placed', 'cancelled')", name="status_known"),
        CheckConstraint("quantity BETWEEN 1 AND 3", name="quantity_range"),
        CheckConstraint("payable_fen >= 0 AND subsidy_fen >= 0", name="amounts_not_negative"),
        CheckConstraint("pricing_basis IN ('live', 'fallback')", name="pricing_basis_known"),
        # One live order per person per meal: a second one would draw the subsidy twice.
        Index(
            "uq_meal_orders_menu_id_elder_id_placed",
            "menu_id",
            "elder_id",
            unique=True,
            sqlite_where=text("status = 'placed'"),
            postgresql_where=text("status = 'placed'"),
        ),
        Index("ix_meal_orders_elder_id", "elder_id"),
        Index("ix_meal_orders_placed_by", "placed_by"),  # per-resident quota (quotas.py)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    menu_id: Mapped[int] = mapped_column(ForeignKey("menus.id"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    fulfilment: Mapped[str] = mapped_column(String(10))
    delivery_address: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    subsidy_fen: Mapped[int] = mapped_column(Integer)
    payable_fen: Mapped[int] = mapped_column(Integer)
    subsidy_tier: Mapped[str | None] = mapped_column(String(20))
    subsidy_rate_id: Mapped[int | None] = mapped_column(ForeignKey("meal_subsidy_rates.id"))
    pricing_basis: Mapped[str] = mapped_column(String(10))
    status_source: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default="placed")
    placed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
