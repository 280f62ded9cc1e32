"""A control character (NUL above all: PostgreSQL cannot store it in `text`), or a field's text of white space alone,
is refused with a 422 naming the field it is in, wherever it comes: in a JSON body of any operation that takes one,
in a query or path parameter, in a stored header. And a body that is not JSON is a 422 naming `body`, as the OpenAPI
documents."""

from __future__ import annotations

import importlib
import json

import pytest

from gateway.app import create_app as create_gateway
from gateway.openapi import merge
from gateway.settings import GatewaySettings
from services import SERVICES
from shared.scopes import DECLARED
from tests.conftest import client_for, service_database, settings_for, staff

NUL_TEXT = "a\x00b"
WRITES = ("post", "put", "patch")


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    variants = [s for s in schema.get("anyOf", schema.get("oneOf", [])) if s.get("type") != "null"]
    return _resolve(variants[0], components) if variants else schema


def text_field(schema: dict, components: dict) -> list[str] | None:
    """The path to a text field of the body (a top-level one first), or None when it holds no text."""
    schema = _resolve(schema, components)
    if schema.get("type") == "string" and schema.get("format") not in ("date", "date-time", "binary"):
        return []
    if schema.get("type") == "array":
        inner = text_field(schema.get("items", {}), components)
        return None if inner is None else ["0", *inner]
    properties = schema.get("properties", {})
    nested = []
    for name, prop in properties.items():
        inner = text_field(prop, components)
        if inner == []:
            return [name]
        if inner is not None:
            nested.append([name, *inner])
    return nested[0] if nested else None


def body_with(path: list[str], value: str):
    if not path:
        return value
    head, *rest = path
    return [body_with(rest, value)] if head == "0" else {head: body_with(rest, value)}


def path_of(template: str, parameters: list[dict]) -> str:
    for p in parameters:
        if p["in"] == "path":
            template = template.replace("{" + p["name"] + "}", "1")
    return template


def all_scopes(service: str):
    importlib.import_module(f"services.{service}.main")  # declares the service's scopes
    return staff("330200", *(s for s in DECLARED if s.startswith(f"{service}.")), subject=f"staff:nul-{service}")


# Text of white space alone (a full-width space and a space: a name "typed" on a phone) is refused as a field's
# value; items of a list of texts are left to the list's own rules, so only fields outside lists are tried.
# A lone surrogate (JSON's "\ud800" escape) is no character: it cannot be written as UTF-8 to the database or an answer.
REFUSALS = {
    "nul": (NUL_TEXT, "control character"),
    "blank": ("\u3000 ", "white space"),
    "surrogate": ("a\ud800b", "valid Unicode"),
}


@pytest.mark.parametrize("refused", list(REFUSALS))
@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_write_with_a_json_body_refuses_a_nul_blank_or_lone_surrogate_text_naming_the_field(
    service, refused, backend, db_dir
):
    text, refusal = REFUSALS[refused]
    checked, failures = 0, []
    async for client in client_for(service, await service_database(service, backend, db_dir)):
        document = (await client.get(f"/api/{service}/v1/openapi.json")).json()
        components = document["components"]["schemas"]
        headers = client.as_(all_scopes(service))
        for template, item in document["paths"].items():
            for method, operation in item.items():
                content = operation.get("requestBody", {}).get("content", {})
                if method not in WRITES or "application/json" not in content:
                    continue
                field = text_field(content["application/json"]["schema"], components)
                if field is None or (refused == "blank" and "0" in field):
                    continue
                checked += 1
                url = path_of(template, operation.get("parameters", []))
                # Sent as JSON escapes (ensure_ascii), as a client would write a lone surrogate.
                response = await client.request(
                    method.upper(),
                    url,
                    content=json.dumps(body_with(field, text)),
                    headers=headers | {"content-type": "application/json"},
                )
                # A list of texts is checked whole: its error names the list (`texts`, not `texts.0`).
                named = ".".join(field).removesuffix(".0")
                errors = response.json().get("errors") or [] if response.status_code == 422 else []
                if not any(e["field"] == named and refusal in e["message"] for e in errors):
                    failures.append(
                        f"{method.upper()} {template} {named}: {response.status_code} {response.text[:300]}"
                    )
    assert checked >= 5, checked
    assert not failures, f"{len(failures)} of {checked} operations:\n" + "\n".join(failures)


async def test_a_nul_in_a_query_parameter_is_a_422_naming_it(backend, db_dir):
    async for client in client_for("placenames", await service_database("placenames", backend, db_dir)):
        for url in ("/api/placenames/v1/addresses/search?q=a%00b", "/api/placenames/v1/geocode?q=%C2%85"):
            response = await client.get(url)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"][0] == {
                "field": "q",
                "location": "query",
                "code": "control_character",
                "label_zh": "搜索词",
                "label_en": "q",
                "message": response.json()["errors"][0]["message"],
            }
            assert "control characters" in response.json()["errors"][0]["message"]


async def test_a_nul_in_a_path_parameter_is_a_422_naming_it(backend, db_dir):
    async for client in client_for("eldercare", await service_database("eldercare", backend, db_dir)):
        principal = all_scopes("eldercare")
        response = await client.delete(
            "/api/eldercare/v1/elders/1/carers/resident%3Aa%00b", headers=client.as_(principal)
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert (error["field"], error["location"]) == ("subject", "path")


async def test_a_control_character_in_an_idempotency_key_is_a_422_naming_the_header(backend, db_dir):
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):
        headers = client.as_(all_scopes("charity")) | {"Idempotency-Key": "key\x01"}
        response = await client.post("/api/charity/v1/donations", json={}, headers=headers)
        assert response.status_code == 422, response.text
        assert {"field": "Idempotency-Key", "location": "header"} in [
            {k: e[k] for k in ("field", "location")} for e in response.json()["errors"]
        ]


@pytest.mark.parametrize("body", [b'{"name": "unterminated', b'{"name": "\xff\xfe"}'], ids=["not-json", "not-utf8"])
async def test_a_body_that_is_not_json_is_a_422_naming_the_body(backend, db_dir, body):
    async for client in client_for("eldercare", await service_database("eldercare", backend, db_dir)):
        response = await client.post(
            "/api/eldercare/v1/elders",
            content=body,
            headers={"content-type": "application/json", **client.as_(all_scopes("eldercare"))},
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "/problems/validation-failed"
        assert response.json()["errors"] == [
            {
                "field": "body",
                "location": "body",
                "message": "must be JSON in UTF-8",
                "code": "json_invalid",
                "label_zh": "提交的内容",
                "label_en": "body",
            }
        ]


def service_document(service: str) -> dict:
    return importlib.import_module(f"services.{service}.main").create_app(settings_for(service, "sqlite://")).openapi()


def problems_not_as_problem_json(document: dict) -> list[str]:
    return [
        f"{method} {template} {status}"
        for template, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
        and response.get("content")
        != {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    ]


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_openapi_documents_every_problem_as_problem_json_and_a_422_on_every_operation(service):
    document = service_document(service)
    assert problems_not_as_problem_json(document) == []
    assert [
        f"{m} {t}" for t, item in document["paths"].items() for m, op in item.items() if "422" not in op["responses"]
    ] == []
    assert "HTTPValidationError" not in json.dumps(document)


def test_the_gateways_merged_openapi_documents_every_problem_as_problem_json():
    gateway = create_gateway(
        GatewaySettings(
            env="test", database_url="sqlite://", **{f"upstream_{s}": "http://127.0.0.1:9" for s in SERVICES}
        )
    )
    merged = merge(gateway.local_app.openapi(), {service: service_document(service) for service in SERVICES})
    assert any(path.startswith("/api/auth/") for path in merged["paths"])
    # The one exception, on purpose: the OAuth2 token endpoint answers its refusals in RFC 6749 §5.2's shape,
    # which client libraries read (gateway/auth/oauth.py), and documents them so.
    token_errors = {"post /api/auth/v1/token 400", "post /api/auth/v1/token 401"}
    assert problems_not_as_problem_json(merged) == sorted(token_errors)
    for status in ("400", "401"):
        content = merged["paths"]["/api/auth/v1/token"]["post"]["responses"][status]["content"]
        assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthErrorOut"}}}
    assert "HTTPValidationError" not in json.dumps(merged)
