"""Civil dates are Shanghai dates: an older person turns 60, and a menu is for a day, in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BeforeValidator

from shared.schemas import iso_datetime

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


# A moment given by a caller: ISO 8601 with an offset, never a bare number or a wall time without a zone.
Instant = Annotated[AwareDatetime, BeforeValidator(iso_datetime)]
