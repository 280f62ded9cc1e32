"""Codes, months and phones written in other scripts' digits, in every service. A pattern's `\\d` takes any script's
digits (full-width ３, Arabic-Indic ٣): a community code ３３０２１２... met `^\\d{12}$`, an address code met
`^\\d{16}$`, a period 20２６-01 met the month pattern, a TOTP or SMS code of full-width digits met `^\\d{6}$`. The
shared and the services' patterns say [0-9]: each is a 422 naming the field, and the same written in 0 to 9 is not
refused for that field. (tests/eldercare/test_ascii_digits.py has eldercare's queries and bodies.)"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import client_for, service_database, staff
from tests.gateway.conftest import gateway_client

# (service, method, path, body or query, field, the value in other digits, the same in 0 to 9)
CASES: list[tuple[str, str, str, dict[str, Any], str, str, str]] = [
    ("placenames", "GET", "/door-plates/{code}", {}, "code", "NBMP０００００００１", "NBMP00000001"),
    ("placenames", "GET", "/addresses/{code}", {}, "code", "٣٣٠٢١٢٠٠١٠٠٠٠٠٠١", "3302120010000001"),
    ("assistance", "POST", "/households/1/incomes", {}, "period_from", "20２６-01", "2026-01"),
    ("assistance", "POST", "/households/1/medical-expenses", {}, "period_to", "20٢٦-03", "2026-03"),
    ("charity", "POST", "/community-funds", {}, "community_code", "３３０２１２００１００５", "330212001005"),
    ("charity", "POST", "/organizations", {}, "contact_phone", "1３９０５７４１２３４", "13905741234"),
    ("charity", "POST", "/organizations", {}, "address_code", "３３０２１２００１００００００１", "3302120010000001"),
    (
        "gateway",
        "POST",
        "/api/auth/v1/staff-sign-ins",
        {"username": "nobody", "password": "x"},
        "totp",
        "１２３４５６",
        "123456",
    ),
    ("gateway", "POST", "/api/auth/v1/code-sign-ins", {"phone": "13905741234"}, "code", "١٢٣٤٥٦", "123456"),
    ("gateway", "POST", "/api/auth/v1/code-sign-ins", {"code": "123456"}, "phone", "1٣٩٠٥٧٤١٢٣٤", "13905741234"),
]


async def _client(service: str, backend: str, db_dir) -> AsyncIterator[Any]:
    database = await service_database(service, backend, db_dir)
    if service == "gateway":
        async for client in gateway_client(database):
            yield client
        return
    async for client in client_for(service, database):
        yield client


def _headers(client, service: str) -> dict[str, str]:
    if service == "gateway":
        return {}
    scopes = importlib.import_module(f"services.{service}.scopes")
    granted = (v for v in vars(scopes).values() if isinstance(v, str) and v.startswith(f"{service}."))
    return client.as_(staff("330200", *granted))


async def _send(client, service: str, method: str, path: str, extra: dict[str, Any], field: str, value: str):
    if service != "gateway":
        path = f"/api/{service}/v1{path}"
    headers = _headers(client, service)
    if "{" + field + "}" in path:
        return await client.request(method, path.replace("{" + field + "}", value), headers=headers)
    return await client.request(method, path, json={**extra, field: value}, headers=headers)


def _fields(response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


@pytest.mark.parametrize(("service", "method", "path", "extra", "field", "other", "ascii"), CASES)
async def test_a_code_month_or_phone_in_other_digits_is_a_422_naming_it(
    backend, db_dir, service, method, path, extra, field, other, ascii
):
    async for client in _client(service, backend, db_dir):
        refused = await _send(client, service, method, path, extra, field, other)
        assert refused.status_code == 422 and field in _fields(refused), refused.text
        taken = await _send(client, service, method, path, extra, field, ascii)
        assert field not in _fields(taken), taken.text
