"""Division codes (行政区划代码): 6 digits to district level, 9 for townships/streets, 12 for villages/communities."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, true

from shared.divisions import city_code, division, division_code
from shared.errors import InvalidInput

# The city this deployment serves (宁波市), from the division tree; its staff see every district.
CITY_CODE = city_code()

DIVISION_CODE_PATTERN = r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$"
DISTRICT_CODE_PATTERN = r"^[0-9]{6}$"
# [0-9], never `\d`: `\d` takes any script's digits (３３０２１２, ٣٣٠٢١٢), and such a code matches no division: it
# was stored where no one would find it, or refused as outside the caller's area.

AreaCode = Annotated[
    str,
    Field(
        pattern=DIVISION_CODE_PATTERN,
        examples=[division_code("下应街道")],
        description="Division code: 6 (district), 9 (township/street) or 12 (village/community) digits",
    ),
]
DistrictCode = Annotated[
    str,
    Field(
        pattern=DISTRICT_CODE_PATTERN,
        examples=[division_code("鄞州区")],
        description="District-level (区县市) division code",
    ),
]

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


def covers(area: str, code: str) -> bool:
    """Whether the division `code` lies inside the area `area` (the area itself or one below it)."""
    return code.startswith(area_prefix(area))


def within_area(column: SQLColumnExpression[str], code: str) -> ColumnElement[bool]:
    """`column` holds a division code inside the area `code`, as a range on its significant prefix
    (prefix <= column < the next prefix of the same length).

    Not `column LIKE 'prefix%'`: PostgreSQL serves a LIKE from a B-tree index only under the C collation or with
    pattern operators, and these databases use C.UTF-8, so a LIKE reads every row. Digits sort alike under every
    collation, so the range is served by a plain index on the column (or one that begins with it after equality
    columns).
    """
    prefix = area_prefix(code)
    if not prefix:
        return true()
    following = str(int(prefix) + 1).zfill(len(prefix))
    if len(following) > len(prefix):  # 99…9: nothing comes after it at this length
        return column >= prefix
    return and_(column >= prefix, column < following)


# The city itself or one of its districts (330200 or 3302xx): where city-wide rates and policy versions apply.
DISTRICT_OR_CITY_PATTERN = rf"^{area_prefix(CITY_CODE)}[0-9][0-9]$"


def check_district(code: str, field: str, *, or_city: bool = False, location: str = "body") -> None:
    """422 on `field` unless `code` is a district of the city today, or with `or_city` the city itself (a trust filed
    with the city bureau, a unit of the city government): DISTRICT_CODE_PATTERN takes any six digits, and a record
    filed under a code no district has (a typing slip) is seen by no district's staff, counted in no district's
    figures."""
    if or_city and code == CITY_CODE:
        return
    found = division(code)
    if found is None or found.level != "district" or not found.current:
        if or_city:
            raise InvalidInput(field, "not the city or a district of it", location=location)
        raise InvalidInput(field, "not a district of the city's division tree", location=location)


def check_area(code: str, field: str, *, location: str = "body") -> None:
    """422 on `field` unless `code` is a division of the city in force today (the city, a district, a township or
    street, a village or community): AreaCode's pattern takes any 6, 9 or 12 digits, and a record filed under a code
    no division has (a typing slip, a community 330212001999 that does not exist) is seen by none of that area's
    staff and counted in no area's figures. The code's digits place it in its township and district (NBS codes)."""
    found = division(code)
    if found is None or not found.current:
        raise InvalidInput(field, "{code_} is not a division in force", code_=code, location=location)
