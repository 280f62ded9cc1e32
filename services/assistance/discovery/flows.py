"""What a discovery request sets in motion beyond its own transaction: a screening is committed, then started."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.discovery import screenings
from services.assistance.discovery.runner import ScreeningRunner
from services.assistance.discovery.schemas import ScreeningIn, ScreeningOut
from shared.identity import Principal


async def start_screening(session: AsyncSession, runner: ScreeningRunner, principal: Principal,
                          data: ScreeningIn) -> ScreeningOut:
    """Record the screening job and start it; the job row must be committed before the job starts."""
    screening = await screenings.create_screening(session, principal, data)
    out = screenings.screening_out(screening)
    await session.commit()
    runner.start(screening.id)
    return out
