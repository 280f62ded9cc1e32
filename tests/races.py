"""What every contention test checks once its race is over, besides its invariant: the process still serves.

The losers of a race are rolled back, and nothing they touched may outlive them. Once, a per-process cache kept
the subsidy rates a refused meal order had read; rolled back with it, they were expired, and from then on every
order for that day and district answered 500 until the process restarted. So after the race each test sends the
next ordinary request down the losers' path (the same kind of request, day, area or account) and expects the
ordinary answer.
"""

from __future__ import annotations

from collections.abc import Awaitable

import httpx


async def next_request_succeeds(request: Awaitable[httpx.Response], status: int = 201) -> dict:
    """The answer to the request sent after the race, which must be the ordinary one."""
    response = await request
    assert response.status_code == status, response.text
    return response.json()
