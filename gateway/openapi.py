"""One OpenAPI document for the whole suite, merged from the services' own documents."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from gateway.proxy import PROXY_PROBLEMS, Upstream
from shared.app import document_problems

CACHE_S = 30.0
# A cold path: a service with many routes may take seconds to build its document the first time.
FETCH_TIMEOUT_S = 15.0


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    text = json.dumps(node)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    return json.loads(text)


def merge(gateway_doc: dict, service_docs: dict[str, dict | None]) -> dict:
    """Paths are disjoint by prefix; a schema name two services define differently gets a service prefix."""
    merged = {
        **gateway_doc,
        "paths": dict(gateway_doc.get("paths", {})),
        "components": {
            "schemas": dict(gateway_doc.get("components", {}).get("schemas", {})),
            "securitySchemes": dict(gateway_doc.get("components", {}).get("securitySchemes", {})),
        },
        "tags": list(gateway_doc.get("tags", [])),
    }
    unavailable = []
    for service, doc in service_docs.items():
        if doc is None:
            unavailable.append(service)
            continue
        schemas = doc.get("components", {}).get("schemas", {})
        # A schema is renamed when it differs from the one of that name already merged, and so, in turn, is one
        # that is the same text but refers to a renamed schema (two services' Page_AccountOut_ read alike, yet
        # each means its own AccountOut): renamed until nothing more changes.
        renames: dict[str, str] = {}
        while True:
            seen = _rename_refs(schemas, renames) if renames else schemas
            more = {
                name: f"{service}__{name}"
                for name, schema in seen.items()
                if name not in renames
                and name in merged["components"]["schemas"]
                and merged["components"]["schemas"][name] != schema
            }
            if not more:
                break
            renames |= more
        doc = _rename_refs(doc, renames) if renames else doc
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            merged["components"]["schemas"][renames.get(name, name)] = schema
        merged["components"]["securitySchemes"].update(doc.get("components", {}).get("securitySchemes", {}))
        for path, item in doc.get("paths", {}).items():
            if path.startswith(f"/api/{service}/"):  # the service's health routes stay its own business
                merged["paths"][path] = _with_proxy_problems(item)
        merged["tags"] += [{**t, "name": t["name"]} for t in doc.get("tags", [])]
    _describe_scopes(merged)
    _accept_pasted_tokens(merged)
    document_problems(merged)  # the gateway's own routes too: problems as problem+json, a 422 on each
    if unavailable:
        merged["info"] = {
            **merged["info"],
            "description": merged["info"].get("description", "")
            + f"\n\nNot included (service unavailable when this was built): {', '.join(unavailable)}.",
        }
    return merged


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _with_proxy_problems(item: dict) -> dict:
    """Every proxied operation may also get the gateway's own problems (busy, timed out, ...): say so."""
    item = dict(item)
    for method in HTTP_METHODS:
        if method not in item:
            continue
        operation = item[method] = dict(item[method])
        responses = operation["responses"] = dict(operation.get("responses", {}))
        for status, text in PROXY_PROBLEMS.items():
            own = responses.get(status)
            description = f"{own['description']}. From the gateway: {text}" if own else f"From the gateway: {text}"
            responses[status] = {
                **(own or {}),
                "description": description,
                "content": (own or {}).get("content") or {"application/problem+json": {}},
            }
    return item


def _describe_scopes(document: dict) -> None:
    """Every route names its scopes; the security scheme says what each one allows."""
    from gateway.scopes import load_all
    from shared.scopes import DECLARED

    load_all()
    scheme = document["components"]["securitySchemes"].get("gateway")
    if scheme:
        scheme["flows"]["clientCredentials"]["scopes"] = {
            name: f"{s.description} (held by: {', '.join(sorted(s.holders))})" for name, s in sorted(DECLARED.items())
        }


def _accept_pasted_tokens(document: dict) -> None:
    """The `bearer` scheme as an alternative on every secured operation: the client-credentials flow alone leaves a
    person with a token from a sign-in nothing to paste it into (Swagger UI's Authorize)."""
    if "bearer" not in document["components"]["securitySchemes"]:
        return  # the gateway's own document defines it (gateway.principals.bearer_scheme)
    for path, item in document["paths"].items():
        item = document["paths"][path] = dict(item)  # copies: the gateway's own document is cached by FastAPI
        for method in HTTP_METHODS:
            security = item.get(method, {}).get("security")
            if security and {"bearer": []} not in security:
                item[method] = {**item[method], "security": [*security, {"bearer": []}]}


class MergedOpenAPI:
    def __init__(self, upstreams: dict[str, Upstream]):
        self.upstreams = upstreams
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self, name: str, upstream: Upstream) -> dict | None:
        try:
            async with upstream.session.get(
                f"{upstream.base_url}/api/{name}/v1/openapi.json", timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
            ) as response:
                return await response.json() if response.status == 200 else None
        except (TimeoutError, aiohttp.ClientError):
            return None

    async def document(self, gateway_doc: dict) -> dict:
        async with self._lock:
            if self._cached and self._cached[0] > time.monotonic():
                return self._cached[1]
            names = list(self.upstreams)
            docs = await asyncio.gather(*(self._fetch(n, self.upstreams[n]) for n in names))
            merged = merge(gateway_doc, dict(zip(names, docs, strict=True)))
            # A partial document is cached briefly only, so a service that comes back shows up soon.
            lifetime = CACHE_S if all(d is not None for d in docs) else 2.0
            self._cached = (time.monotonic() + lifetime, merged)
            return merged
