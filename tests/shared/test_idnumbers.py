"""ID numbers are checked against Shanghai's calendar, whatever the machine's time zone."""

import datetime as dt

import pytest
from stdnum.cn import ric

from shared import clock
from shared.errors import InvalidInput
from shared.idnumbers import parse_id_number


def number_born_on(day: dt.date) -> str:
    base = f"330212{day:%Y%m%d}012"
    return base + ric.calc_check_digit(base + "0")


def test_a_child_born_today_in_shanghai_is_valid_and_tomorrow_is_not(monkeypatch):
    # Shanghai's "today" set a week ahead of the machine's: only a check on Shanghai's date accepts the number.
    shanghai_today = dt.date.today() + dt.timedelta(days=7)
    monkeypatch.setattr(clock, "today", lambda: shanghai_today)
    assert parse_id_number(number_born_on(shanghai_today)).birth_date == shanghai_today
    with pytest.raises(InvalidInput, match="out of range"):
        parse_id_number(number_born_on(shanghai_today + dt.timedelta(days=1)))
