"""Civil dates are Shanghai dates: an older person turns 60, and a menu is for a day, in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BeforeValidator

from shared.schemas import iso_datetime

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Moved only by tests (`advance`), so that a test can see what a scheduled job does a day or a month later.
_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """The current instant, timezone-aware, in UTC (the suite's one clock: shared.db.utcnow reads it)."""
    return dt.datetime.now(dt.UTC) + _offset


def today() -> dt.date:
    return now().astimezone(SHANGHAI).date()


def advance(delta: dt.timedelta) -> None:
    """Tests only: move this process's clock forward (or back, with a negative delta)."""
    global _offset
    _offset += delta


def reset() -> None:
    """Tests only: the clock reads the real time again."""
    global _offset
    _offset = dt.timedelta(0)


# A moment given by a caller: ISO 8601 with an offset, never a bare number or a wall time without a zone.
Instant = Annotated[AwareDatetime, BeforeValidator(iso_datetime)]
