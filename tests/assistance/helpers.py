"""Builders shared by the assistance tests: valid ID numbers, members and households."""

import datetime as dt
import itertools

from stdnum.cn import ric

from shared import clock

_serials = itertools.count(100)


def id_number(birth: dt.date, division: str = "330212", serial: str | None = None) -> str:
    serial = serial or f"{next(_serials) % 1000:03d}"
    base = f"{division}{birth:%Y%m%d}{serial}"
    return base + ric.calc_check_digit(base + "0")


def born_years_ago(years: int, days: int = 0) -> dt.date:
    today = clock.today()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


def member(relationship="applicant", age=40, **overrides):
    body = {"id_number": id_number(born_years_ago(age, 10)), "name": "成员", "relationship": relationship}
    return body | overrides


def household(*members, area_code="330212001005", **overrides):
    body = {"area_code": area_code, "address": "鄞州区百丈街道某小区1幢101室", "members": list(members) or [member()]}
    return body | overrides
