"""What a discovery request sets in motion beyond its own rows: a screening and the job that runs it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.discovery import screenings
from services.assistance.discovery.schemas import ScreeningIn, ScreeningOut
from services.assistance.jobs import tasks
from shared.identity import Principal


async def start_screening(session: AsyncSession, principal: Principal, data: ScreeningIn) -> ScreeningOut:
    """Record the screening and enqueue its job in the same transaction: a worker takes it once committed."""
    screening = await screenings.create_screening(session, principal, data)
    screening.job_id = await tasks.enqueue(session, "screening.run", {"screening_id": screening.id})
    await session.flush()
    return screenings.screening_out(screening)
