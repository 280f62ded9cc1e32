"""Bed use cases that go beyond one service call: the steps around a hold's transaction (a turn per bed, a read
before the transaction, an early refusal, the idempotent transaction and its commit), and joining the waitlist,
which asks assistance about the person first. The router parses the request, calls one of these, and answers."""

from __future__ import annotations

import asyncio
import weakref

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from services.eldercare.beds import occupancy, waitlist
from services.eldercare.beds.schemas import HoldIn, HoldOut, WaitlistIn, WaitlistOut
from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.peers import assistance_of, facts_for_elder
from shared.db import database_of
from shared.direct import Link
from shared.idempotency import idempotent, idempotent_direct
from shared.identity import Principal
from shared.metrics import count_event

# One lock per bed somebody is holding right now; a lock nobody waits on any more goes away by itself.
_bed_turns: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


async def place_hold(request: Request, principal: Principal, data: HoldIn, *, key: str | None) -> JSONResponse:
    """Hold a bed, once per Idempotency-Key `key`."""
    settings = request.app.state.settings
    # Holds on one bed take turns in this process, up to their commit: when many want the same bed at once, the
    # ones after the winner see it taken in their first read instead of each running a transaction that the
    # unique index refuses at its end. Only a shortcut: other processes, and the database, are not waited for.
    async with _bed_turns.setdefault(data.bed_id, asyncio.Lock()):
        # Before the transaction, in one statement outside any: the person, the bed and whoever holds it. A
        # refusal (the bed is taken, above all) is answered from it at once.
        context = await occupancy.read_before_hold(database_of(request), principal, data, key=key)
        occupancy.refuse_hold_early(context, data, hold_quota=settings.resident_bed_holds)
        expired = 0

        async def create(link: Link) -> HoldOut:
            nonlocal expired
            hold, expired = await occupancy.create_hold(
                link,
                principal,
                data,
                context,
                default_minutes=settings.bed_hold_minutes,
                hold_quota=settings.resident_bed_holds,
            )
            return occupancy.hold_out(hold)

        # One transaction, its statements sent straight to the driver (shared.direct): the key's claim, the quota,
        # the lapsed holds expired, the hold and the stored response; committed inside the turn. A refused hold
        # takes its key back with its rollback.
        response = await idempotent_direct(
            request, IDEMPOTENCY_KEYS, principal, data, create, counted=("eldercare", "bed_hold_placed")
        )
    for _ in range(expired):  # committed with the hold
        count_event("eldercare", "bed_hold_expired")
    return response


async def join_waitlist(
    request: Request, session: AsyncSession, principal: Principal, data: WaitlistIn
) -> JSONResponse:
    """Put the person on the waitlist with their priority facts from assistance (or its fallback), once per
    Idempotency-Key. The key is claimed in a transaction of its own: assistance is asked inside `create`."""
    settings = request.app.state.settings

    async def create() -> WaitlistOut:
        facts = await facts_for_elder(
            database_of(request),
            assistance_of(request),
            principal,
            data.elder_id,
            cache_hours=settings.status_cache_hours,
        )
        entry = await waitlist.add_to_waitlist(session, principal, data, facts, offer_hours=settings.bed_offer_hours)
        return await waitlist.get_waitlist_entry(session, principal, entry.id)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)
