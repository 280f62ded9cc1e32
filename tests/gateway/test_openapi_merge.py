"""The merged API description: two services' schemas of one name stay each service's own."""

from gateway.openapi import merge


def _service(prefix: str, account: dict) -> dict:
    page = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/AccountOut"}}},
    }
    return {
        "paths": {
            f"/api/{prefix}/v1/accounts": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Page_AccountOut_"}}
                            }
                        }
                    }
                }
            }
        },
        "components": {"schemas": {"AccountOut": account, "Page_AccountOut_": page}},
    }


def _resolve(document: dict, path: str) -> dict:
    """The schema of the items a list route answers with, followed through the merged document's refs."""
    schemas = document["components"]["schemas"]
    ref = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schemas[ref.rsplit("/", 1)[1]]
    return schemas[page["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]]


def test_a_page_schema_of_the_same_text_still_means_each_services_own_item():
    """eldercare's subsidy accounts and charity's ledger accounts are both AccountOut, and their pages read alike:
    the gateway fuzz found eldercare's page pointing at charity's account once the second was renamed."""
    subsidy = {"type": "object", "required": ["elder_id"], "properties": {"elder_id": {"type": "integer"}}}
    ledger = {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}
    gateway_doc = {"openapi": "3.1.0", "info": {"title": "suite", "version": "1"}, "paths": {}}
    merged = merge(gateway_doc, {"eldercare": _service("eldercare", subsidy), "charity": _service("charity", ledger)})
    assert _resolve(merged, "/api/eldercare/v1/accounts") == subsidy
    assert _resolve(merged, "/api/charity/v1/accounts") == ledger
