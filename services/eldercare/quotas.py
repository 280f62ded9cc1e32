"""Per-resident booking quotas (OWASP API6, unrestricted access to sensitive business flows).

A resident account may hold at most `resident_meal_orders_per_day` live meal orders for one day,
`resident_bed_holds` live bed holds and `resident_open_visits` open home-visit orders, counted across all the
people they act for, and `resident_pending_care_links` care link requests waiting for staff (settings.py).
Staff are not limited here: they book for people in their area.

Over a quota the answer is **409** `/problems/quota-reached`, with `resource` naming the quota
(`quotas/meal_orders_per_day`, ...), not 429: waiting does not help, cancelling a booking does, and 429 stays
the gateway's rate limit with its `Retry-After`.

Race-safe: the check runs in the booking's own transaction, after taking a lock per resident, so two bookings
by one resident at once are counted one after the other. On PostgreSQL that is a transaction-scoped advisory
lock on the resident's subject (there is no resident row in eldercare to lock); on SQLite every write
transaction already begins with BEGIN IMMEDIATE and so runs alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Executable, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.eldercare.beds.models import BedOccupancy
from services.eldercare.carelinks.models import CareLinkRequest
from services.eldercare.homecare.models import Visit
from services.eldercare.meals.models import MealOrder, Menu
from shared import direct
from shared.db import utcnow
from shared.direct import Link
from shared.errors import Conflict
from shared.i18n import N_
from shared.identity import Principal

# The first key of the advisory lock: keeps these locks apart from any other use of advisory locks.
LOCK_NAMESPACE = 730_001
OPEN_VISIT_STATES = ("requested", "scheduled", "checked_in")


class QuotaReached(Conflict):
    slug, title = "quota-reached", N_("Booking quota reached")


_LOCK_RESIDENT = select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, func.hashtext(bindparam("lock_subject"))))


async def _refuse_over(
    link: Link,
    principal: Principal,
    count_query: Executable,
    limit: int,
    quota: str,
    what: str,
    params: dict[str, Any] | None = None,
) -> None:
    if link.dialect == "postgresql":
        await link.scalar(_LOCK_RESIDENT, {"lock_subject": principal.subject})
    held = await link.scalar(count_query, params or {})
    if held >= limit:
        raise QuotaReached(
            "you already hold {held} {what}; the limit is {limit} ({quota}). Cancel or release one first",
            resource=f"quotas/{quota}",
            held=held,
            what=what,
            limit=limit,
            quota=quota,
        )


def meal_orders_held(subject: str | BindParameter[str], day) -> Select:
    """The count of a resident's (`subject`: a value, or a parameter) live meal orders for `day` (a date, or a
    column of the outer query: the menus are aliased here, so a `Menu.served_on` from outside stays the outer
    menu's)."""
    menus = aliased(Menu)
    return (
        select(func.count())
        .select_from(MealOrder)
        .join(menus, menus.id == MealOrder.menu_id)
        .where(MealOrder.placed_by == subject, MealOrder.status == "placed", menus.served_on == day)
    )


# The same count for a menu's day, built once (the subject and the menu are parameters).
_MEAL_ORDERS_HELD = meal_orders_held(
    bindparam("subject"), select(Menu.served_on).where(Menu.id == bindparam("menu_id")).scalar_subquery()
)


async def check_meal_orders(link: Link, principal: Principal, menu_id: int, limit: int) -> None:
    """Before a resident's meal order, in its transaction: their live orders for the menu's day stay under
    `limit`."""
    if principal.kind != "resident":
        return
    await _refuse_over(
        link,
        principal,
        _MEAL_ORDERS_HELD,
        limit,
        "meal_orders_per_day",
        N_("meal orders for that day"),
        {"subject": principal.subject, "menu_id": menu_id},
    )


def bed_holds_held(subject: str | BindParameter[str], now) -> Select:
    """The count of a resident's (`subject`: a value, or a parameter) live bed holds at `now` (an instant, or a
    parameter). The occupancies are aliased here, so the count can sit in a query that reads occupancies of its
    own."""
    holds = aliased(BedOccupancy)
    return (
        select(func.count())
        .select_from(holds)
        .where(
            holds.created_by == subject,
            holds.kind == "hold",
            holds.status == "active",
            holds.expires_at > now,
        )
    )


# The same count built once (the subject and the instant are parameters).
_BED_HOLDS_HELD = bed_holds_held(bindparam("subject"), bindparam("now", type_=BedOccupancy.expires_at.type))


async def check_bed_holds(link: Link, principal: Principal, limit: int) -> None:
    """Before a resident's bed hold, in its transaction: their live holds (active, before their deadline) stay
    under `limit`."""
    if principal.kind != "resident":
        return
    await _refuse_over(
        link,
        principal,
        _BED_HOLDS_HELD,
        limit,
        "bed_holds",
        N_("live bed holds"),
        {"subject": principal.subject, "now": utcnow()},
    )


async def check_pending_care_links(session: AsyncSession, principal: Principal, limit: int) -> None:
    """Before a resident's care link request: their requests waiting for staff stay under `limit`."""
    if principal.kind != "resident":
        return
    count = (
        select(func.count())
        .select_from(CareLinkRequest)
        .where(CareLinkRequest.requester == principal.subject, CareLinkRequest.status == "pending")
    )
    await _refuse_over(
        direct.on(await session.connection()),
        principal,
        count,
        limit,
        "pending_care_links",
        N_("care link requests waiting"),
    )


async def check_open_visits(session: AsyncSession, principal: Principal, limit: int) -> None:
    """Before a resident's home-visit order: their open visits stay under `limit`."""
    if principal.kind != "resident":
        return
    count = (
        select(func.count())
        .select_from(Visit)
        .where(Visit.ordered_by == principal.subject, Visit.status.in_(OPEN_VISIT_STATES))
    )
    await _refuse_over(
        direct.on(await session.connection()), principal, count, limit, "open_visits", N_("open home-visit orders")
    )
