"""Resident identity card numbers (居民身份证号码, GB 11643-1999): validation, derived facts, masking."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field
from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric

from shared import clock
from shared.errors import InvalidInput

Sex = Literal["male", "female"]


@dataclass(frozen=True)
class IdNumber:
    value: str  # compact, upper-case check character
    birth_date: dt.date
    sex: Sex
    division_code: str  # the 6-digit code of the place of first registration

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)


# Cached: stdnum's table is fixed for the process, and a look-up walks it (half the cost of a parse, which a
# spreadsheet of a street's 100,000 people pays per row); there are a few thousand county codes.
@functools.lru_cache(maxsize=8192)
def _known_division(code: str) -> bool:
    """Whether the 6-digit code names a county-level division in stdnum's table, in any period.

    stdnum's own `validate` also demands that the division existed in the holder's birth year. Codes
    were assigned when cards were issued (from 1984), so a person born in 1945 in 海曙区 (a code since
    1983) holds a valid 330203 number that it rejects: every older person would fail that rule.
    """
    results = numdb.get("cn/loc").info(code)
    return any("county" in props for _part, props in results)


def parse_id_number(raw: str, *, field: str = "id_number") -> IdNumber:
    """Validate an 18-character ID number (check character, real birth date, known division) or raise."""
    value = ric.compact(raw).upper()
    if len(value) != 18 or not value[:17].isdigit():
        raise InvalidInput(field, "must be 17 digits and a check character (digit or X)")
    if value[-1] != ric.calc_check_digit(value):
        raise InvalidInput(field, "the check character does not match (GB 11643)")
    try:
        birth = ric.get_birth_date(value)
    except stdnum_errors.ValidationError:
        raise InvalidInput(field, "the birth date in the number is not a real date") from None
    # Shanghai's date, not the machine's: from 16:00 UTC a child born today there was refused as not born yet.
    if birth > clock.today() or birth.year < 1890:
        raise InvalidInput(field, "the birth date in the number is out of range")
    if not _known_division(value[:6]):
        raise InvalidInput(field, "{value} is not a known division code", value=value[:6])
    sex: Sex = "male" if int(value[16]) % 2 else "female"
    return IdNumber(value=value, birth_date=birth, sex=sex, division_code=value[:6])


def mask_id_number(value: str) -> str:
    """Keep the division code and the last four characters: 330203********123X."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


MobilePhone = Annotated[
    str, Field(pattern=r"^1[0-9]{10}$", description="Mainland mobile number", examples=["13805741234"])
]


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)
