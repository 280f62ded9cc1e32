"""Division codes (行政区划代码): 6 digits to district level, 9 for townships/streets, 12 for villages/communities."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

DIVISION_CODE_PATTERN = r"^\d{6}(\d{3}(\d{3})?)?$"
DISTRICT_CODE_PATTERN = r"^\d{6}$"

AreaCode = Annotated[str, Field(pattern=DIVISION_CODE_PATTERN, examples=["330212001"],
                                description="Division code: 6 (district), 9 (township/street) or 12 "
                                            "(village/community) digits")]
DistrictCode = Annotated[str, Field(pattern=DISTRICT_CODE_PATTERN, examples=["330212"],
                                    description="District-level (区县市) division code")]

# Levels: province 2, city 4, district 6, township/street 9, village/community 12 digits.
_LEVEL_LENGTHS = (2, 4, 6, 9)


def area_prefix(code: str) -> str:
    """The significant prefix of a division code: 330200 -> 3302, 330212001000 -> 330212001.

    Everything within an area has a code starting with this prefix.
    """
    for length in _LEVEL_LENGTHS:
        if set(code[length:]) <= {"0"}:
            return code[:length]
    return code
