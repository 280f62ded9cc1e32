"""Query, path and header parameters held to the rules `shared.schemas` holds bodies to.

- `IsoDate` is the type of every date parameter: an ISO string (YYYY-MM-DD) only. Plain `dt.date` would take
  `?as_of=0` as 1 January 1970. (Moments are `shared.clock.Instant`.)
- `refuse_control_characters` runs before every route (the app factory installs it): a control character in a
  query parameter, a path parameter or a header the service stores is a 422 naming it, before anything reads or
  writes it (PostgreSQL cannot store NUL in `text`: the insert would fail with a 500).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

from fastapi import Request
from pydantic import BeforeValidator

from shared.errors import InvalidInput
from shared.idempotency import HEADER as IDEMPOTENCY_KEY
from shared.schemas import CONTROL_CHARACTERS, iso_date

IsoDate = Annotated[dt.date, BeforeValidator(iso_date)]

# Headers whose values a service keeps (the others it reads are checked where they are read: the request id
# against a pattern, the identity assertion by its signature).
STORED_HEADERS = (IDEMPOTENCY_KEY,)


def _refuse(location: str, items: Iterable[tuple[str, str]]) -> None:
    for name, value in items:
        found = CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value)
        if found:
            raise InvalidInput(
                name,
                "must not contain control characters (found U+{code_point})",
                location=location,
                code="control_character",
                code_point=f"{ord(found.group()):04X}",
            )


async def refuse_control_characters(request: Request) -> None:
    """A dependency of every route: query and path parameters (decoded) and stored headers without control
    characters. All query parameters count, declared or not: a URL holding one is a mistake either way."""
    _refuse("query", request.query_params.multi_items())
    _refuse("path", ((name, value) for name, value in request.path_params.items() if isinstance(value, str)))
    _refuse("header", ((name, value) for name in STORED_HEADERS if (value := request.headers.get(name)) is not None))
