"""The patterns of eldercare's codes, months and phones, with the digits 0 to 9 only.

`\\d` in a pattern takes any script's digits (full-width ３, Arabic-Indic ٣, ...): an area filter of ３３０２１２ matched
the division-code pattern and answered another area's 403 or an empty page, a month 20２６-11 met the month pattern and
answered 500 where it was read as a date, a district 33021２ of an allowance rate was stored under a code no area
reaches, and a phone 1３９... was kept that no SMS could reach. The shared patterns (`shared.areas`,
`shared.schemas`, `shared.idnumbers`) are written with `\\d`; eldercare's queries and bodies use them made ASCII
here, so a code or month in other digits is a 422 naming the field, and the OpenAPI says [0-9]."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.areas import DISTRICT_CODE_PATTERN, DISTRICT_OR_CITY_PATTERN, DIVISION_CODE_PATTERN
from shared.schemas import MONTH_PATTERN


def ascii_digits(pattern: str) -> str:
    """The pattern with every `\\d` taking only 0 to 9."""
    return pattern.replace(r"\d", "[0-9]")


AREA_CODE = ascii_digits(DIVISION_CODE_PATTERN)
DISTRICT_CODE = ascii_digits(DISTRICT_CODE_PATTERN)
DISTRICT_OR_CITY = ascii_digits(DISTRICT_OR_CITY_PATTERN)
MONTH = ascii_digits(MONTH_PATTERN)

Month = Annotated[str, Field(pattern=MONTH, examples=["2026-11"], description="A month, YYYY-MM (Asia/Shanghai)")]
MobilePhone = Annotated[
    str, Field(pattern=r"^1[0-9]{10}$", description="Mainland mobile number", examples=["13805741234"])
]
