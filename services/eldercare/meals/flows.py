"""Ordering a meal, step by step: what the order's transaction needs is read before it, a refusal is answered from
that read at once, assistance is asked with no transaction open, then one idempotent transaction writes the order.
The router parses the request, calls `order_meal`, and answers."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse

from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.meals import service
from services.eldercare.meals.schemas import MealOrderIn, MealOrderOut
from services.eldercare.peers import assistance_of, facts_of
from shared.db import database_of
from shared.direct import Link
from shared.idempotency import idempotent_direct
from shared.identity import Principal


async def order_meal(request: Request, principal: Principal, data: MealOrderIn, *, key: str | None) -> JSONResponse:
    """Order the meal, once per Idempotency-Key `key`."""
    database, settings = database_of(request), request.app.state.settings
    # 1. In one statement outside any transaction: the person (404 before asking anyone), their cached status, the
    # menu and what else decides a refusal.
    context = await service.read_before_order(
        database, principal, data, key=key, cache_hours=settings.status_cache_hours
    )
    # 2. A refusal (sold out, above all, in a rush) is answered from it at once.
    service.refuse_early(context, data, daily_quota=settings.resident_meal_orders_per_day)
    # 3. Assistance, with no transaction open: a slow peer holds no connection and no lock.
    facts = await facts_of(database, assistance_of(request), context.elder, context.cached_status)

    async def create(link: Link) -> MealOrderOut:
        return service.order_out(
            *await service.place_order(
                link,
                principal,
                data,
                context,
                facts,
                daily_quota=settings.resident_meal_orders_per_day,
                database_url=database.url,
            )
        )

    # 4. One transaction, its statements sent straight to the driver (shared.direct): the key's claim, the quota,
    # the order, the place taken and the stored response.
    return await idempotent_direct(
        request, IDEMPOTENCY_KEYS, principal, data, create, counted=("eldercare", "meal_order_placed")
    )
