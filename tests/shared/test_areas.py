"""An area filter is a range on the code's significant prefix, so that a plain index on the column serves it."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from shared.areas import within_area

CODES = [
    "330000000000",
    "330200000000",
    "330203001002",
    "330203999999",
    "330204000000",
    "330212001000",
    "330299000000",
    "330300000000",
    "999999000000",
    "999999999999",
]
places = Table("places", MetaData(), Column("code", String(12)))


@pytest.fixture(scope="module")
def engine():
    engine = create_engine("sqlite://")
    places.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(places), [{"code": code} for code in CODES])
    return engine


@pytest.mark.parametrize(
    "area, expected",
    [
        ("330203", ["330203001002", "330203999999"]),  # a district: its streets, not the next district
        ("330203001000", ["330203001002"]),  # a street
        ("330203001002", ["330203001002"]),  # a community: itself
        ("330200", ["330200000000", "330203001002", "330203999999", "330204000000", "330212001000", "330299000000"]),
        ("330299", ["330299000000"]),  # the prefix's last digit is 9: the bound carries (3303)
        ("999999", ["999999000000", "999999999999"]),  # nothing comes after 999999 at that length
        ("", CODES),  # no area: everything
    ],
)
def test_within_area_keeps_the_codes_that_begin_with_the_areas_prefix(engine, area, expected):
    with engine.connect() as connection:
        found = sorted(connection.scalars(select(places.c.code).where(within_area(places.c.code, area))))
    assert found == expected
