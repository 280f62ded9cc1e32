"""Exported cells a spreadsheet would run as a formula (CSV/formula injection) are written as text, with a leading
quote: a name or an address typed as `=HYPERLINK(…)` by whoever filled in a form must not run on the desk of the
staff member who opens the export."""

import datetime as dt

import pytest

from shared.spreadsheets import safe_cell


@pytest.mark.parametrize(
    "typed",
    ['=HYPERLINK("http://x","点我")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"],
)
def test_text_a_spreadsheet_would_run_is_quoted(typed):
    assert safe_cell(typed) == "'" + typed


@pytest.mark.parametrize("kept", ["张桂英", "百丈东路1号", "-", "", "a=b", "13805749999"])
def test_ordinary_text_is_written_as_it_is(kept):
    assert safe_cell(kept) == kept


def test_numbers_stay_numbers_and_times_lose_their_zone():
    assert safe_cell(-1500) == -1500
    shanghai = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert safe_cell(shanghai) == dt.datetime(2026, 12, 7, 12, 0)
