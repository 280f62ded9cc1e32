"""Codes, months and phones written in other scripts' digits. A pattern's `\\d` takes any script's digits
(full-width ３, Arabic-Indic ٣): an area filter of ３３０２１２ answered another area's 403 or an empty page, a month
20２６-11 met the month pattern, a district 33021２ of a subsidy rate was stored under a code no area reaches, and a
phone 1３９... was kept that no SMS could reach. Each is now a 422 naming the field; the same written in 0 to 9 is
not refused for that field."""

from __future__ import annotations

import pytest

from services.eldercare import scopes
from tests.conftest import staff
from tests.eldercare.test_meals import API

CITY = staff("330200", *(v for v in vars(scopes).values() if isinstance(v, str) and v.startswith("eldercare.")))

# (path, query parameter, the value in other digits, the same in 0 to 9)
QUERIES = [
    ("/elders", "area_code", "３３０２１２", "330212"),
    ("/providers", "area_code", "３３０２１２", "330212"),
    ("/indicators", "area_code", "٣٣٠٢١٢", "330212"),
    ("/canteens", "area_code", "３３０２１２００１", "330212001"),
    ("/canteens", "delivers_to", "３３０２１２", "330212"),
    ("/meal-subsidy-rates", "district", "33021２", "330212"),
    ("/institutions", "area_code", "３３０２１２", "330212"),
    ("/beds", "district_code", "３３０２１２", "330212"),
    ("/bed-availability", "area_code", "３３０２１２", "330212"),
    ("/meal-statements", "month", "20２６-11", "2026-11"),
]

# (path, body field, the value in other digits, the same in 0 to 9)
BODIES = [
    ("/subsidy-accounts/grants", "month", "20２６-11", "2026-11"),
    ("/canteens/1/meal-statements", "month", "20２６-11", "2026-11"),
    ("/allowance-rates", "district_code", "33021２", "330212"),
    ("/meal-subsidy-rates", "district_code", "33021２", "330212"),
    ("/providers", "phone", "1３９０５７４１２３４", "13905741234"),
    ("/caregivers", "phone", "1３９０５７４１２３４", "13905741234"),
    ("/canteens", "phone", "1３９０５７４１２３４", "13905741234"),
    ("/elders", "phone", "1３９０５７４１２３４", "13905741234"),
]


def fields(response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


@pytest.mark.parametrize(("path", "name", "other", "ascii"), QUERIES)
async def test_a_query_in_other_digits_is_a_422_naming_it(client, path, name, other, ascii):
    refused = await client.get(f"{API}{path}", params={name: other}, headers=client.as_(CITY))
    assert refused.status_code == 422 and fields(refused) == [name], refused.text
    taken = await client.get(f"{API}{path}", params={name: ascii}, headers=client.as_(CITY))
    assert name not in fields(taken), taken.text


@pytest.mark.parametrize(("path", "name", "other", "ascii"), BODIES)
async def test_a_body_field_in_other_digits_is_a_422_naming_it(client, path, name, other, ascii):
    refused = await client.post(f"{API}{path}", json={name: other}, headers=client.as_(CITY))
    assert refused.status_code == 422 and name in fields(refused), refused.text
    taken = await client.post(f"{API}{path}", json={name: ascii}, headers=client.as_(CITY))
    assert name not in fields(taken), taken.text
