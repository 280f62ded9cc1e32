"""Civil dates are Shanghai dates: an older person turns 60, and a menu is for a day, in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BeforeValidator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def _iso_only(value: object) -> object:
    # Pydantic would read "1700000000" as seconds since 1970: an API parameter says what it means.
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1)
                                            .isdigit()):
        raise ValueError("expected an ISO 8601 date-time with its offset, e.g. 2026-11-29T08:00:00+08:00")
    return value


# A moment given by a caller: ISO 8601 with an offset, never a bare number or a wall time without a zone.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
