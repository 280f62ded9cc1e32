"""Every assistance test runs at noon on TEST_DAY (tests/conftest.py): a test's `clock.today()` is then the service's
a moment later (midnight never passes in between), its "last month" is the service's, and the daily jobs' 06:00 slot
is not passed between the test's reckoning and the worker's run."""

import pytest


@pytest.fixture(autouse=True)
def _at_midday(midday):
    pass
