"""Every charity test runs at noon on TEST_DAY (tests/conftest.py): the dates a test reckons from `clock.today()`
(a plan filed 10 days before its start, a registration a day short of a year, the receipt year, yearly reports due
by 31 March) are those the service reckons from its own a moment later, even when midnight passes in between."""

import pytest


@pytest.fixture(autouse=True)
def _at_midday(midday):
    pass
