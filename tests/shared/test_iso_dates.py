"""Dates in query and path parameters are ISO strings only, as the OpenAPI's `format: date` says: pydantic on its
own reads `?as_of=0` as 1 January 1970."""

from __future__ import annotations

import datetime as dt
import importlib
import typing

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import AwareDatetime, BeforeValidator

from services import SERVICES
from shared.clock import Instant
from shared.params import IsoDate
from tests.conftest import client_for, service_database, settings_for
from tests.shared.test_control_characters import all_scopes, path_of

TEMPORAL = (dt.date, dt.datetime, AwareDatetime)
STRICT_VALIDATORS = {typing.get_args(t)[1].func for t in (IsoDate, Instant)}
# A number read as Unix time, and an ISO date outside the years any date of the suite falls in.
NOT_A_DATE = {"date": ("0", "0385-07-16"), "date-time": ("0", "0385-07-16T14:02:33Z")}


def plain_temporal(annotation) -> bool:
    """True when a date or datetime in `annotation` is not held to ISO strings by one of our validators."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        strict = any(isinstance(m, BeforeValidator) and m.func in STRICT_VALIDATORS for m in metadata)
        return not strict and plain_temporal(inner)
    if annotation in TEMPORAL:
        return True
    return any(plain_temporal(arg) for arg in typing.get_args(annotation))


def parameters(dependant):
    yield from dependant.query_params
    yield from dependant.path_params
    for sub in dependant.dependencies:
        yield from parameters(sub)


def app_of(service: str):
    return importlib.import_module(f"services.{service}.main").create_app(settings_for(service, "sqlite://"))


@pytest.mark.parametrize("service", list(SERVICES))
def test_no_query_or_path_parameter_is_a_plain_date(service):
    plain = []
    for context in iter_route_contexts(app_of(service).routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for parameter in parameters(route.dependant):
            annotation = parameter.field_info.annotation
            if plain_temporal(annotation):
                plain.append(f"{context.path} {parameter.name}: use shared.params.IsoDate (or shared.clock.Instant)")
    assert plain == []


def test_the_walk_tells_a_plain_date_from_a_strict_one():
    assert plain_temporal(dt.date | None) and plain_temporal(typing.Annotated[dt.datetime, "doc"])
    # typing.Optional on purpose: the walk must see through the older spelling too.
    assert not plain_temporal(IsoDate | None) and not plain_temporal(typing.Optional[Instant])  # noqa: UP045
    assert not plain_temporal(int | None)


@pytest.mark.parametrize("service", list(SERVICES))
async def test_a_number_or_a_year_out_of_range_for_a_date_parameter_is_a_422_naming_it(service, backend, db_dir):
    checked, failures = 0, []
    async for client in client_for(service, await service_database(service, backend, db_dir)):
        document = (await client.get(f"/api/{service}/v1/openapi.json")).json()
        headers = client.as_(all_scopes(service))
        for template, item in document["paths"].items():
            for method, operation in item.items():
                for parameter in operation.get("parameters", []):
                    schema = parameter.get("schema", {})
                    formats = {s.get("format") for s in [schema, *schema.get("anyOf", [])]}
                    if parameter["in"] != "query" or not formats & {"date", "date-time"}:
                        continue
                    checked += 1
                    for value in NOT_A_DATE["date-time" if "date-time" in formats else "date"]:
                        response = await client.request(
                            method.upper(),
                            path_of(template, operation["parameters"]),
                            params={parameter["name"]: value},
                            headers=headers,
                        )
                        errors = response.json().get("errors") or [] if response.status_code == 422 else []
                        if not any(e["field"] == parameter["name"] and e["location"] == "query" for e in errors):
                            failures.append(
                                f"{method.upper()} {template}?{parameter['name']}={value}: "
                                f"{response.status_code} {response.text[:200]}"
                            )
    assert checked >= (2 if service != "placenames" else 0)
    assert not failures, "\n".join(failures)


async def test_a_visit_corrected_to_a_check_in_in_the_year_385_is_a_422_naming_the_field(backend, db_dir):
    """Dates in bodies hold the same years: the outside fuzzing sent one and got an undocumented 409."""
    async for client in client_for("eldercare", await service_database("eldercare", backend, db_dir)):
        response = await client.post(
            "/api/eldercare/v1/visits/1/corrections",
            json={"check_in_at": "0385-07-16T14:02:33Z", "reason": "typing slip"},
            headers=client.as_(all_scopes("eldercare")),
        )
        assert response.status_code == 422, response.text
        assert [(e["field"], e["location"]) for e in response.json()["errors"]] == [("check_in_at", "body")]
        assert "between the years 1900 and 2199" in response.json()["detail"]
