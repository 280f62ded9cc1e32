"""Opening a subsidy account: the tier comes from assistance (a peer call), the level from the latest assessment,
all under one Idempotency-Key. The router parses the request, calls `open_account`, and answers."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from services.eldercare.assessment.service import latest_level
from services.eldercare.database import IDEMPOTENCY_KEYS
from services.eldercare.peers import assistance_of, facts_for_elder
from services.eldercare.subsidies import service
from services.eldercare.subsidies.schemas import AccountIn, AccountOut
from shared.db import database_of
from shared.idempotency import idempotent
from shared.identity import Principal


async def open_account(request: Request, session: AsyncSession, principal: Principal, data: AccountIn) -> JSONResponse:
    """Open the account, once per Idempotency-Key. The key is claimed in a transaction of its own: assistance is
    asked inside `create`."""

    async def create() -> AccountOut:
        facts = await facts_for_elder(
            database_of(request),
            assistance_of(request),
            principal,
            data.elder_id,
            cache_hours=request.app.state.settings.status_cache_hours,
        )
        level = await latest_level(session, data.elder_id)
        return AccountOut.model_validate(await service.open_account(session, principal, data, facts, level))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)
