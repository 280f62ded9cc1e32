"""The front door: forwarding, identity, request ids, limits, and failing upstreams as problem+json."""

import asyncio
import time

import jwt

from gateway.principals import DEMO_PRINCIPALS, TOKEN_AUDIENCE, TOKEN_ISSUER, issue_token
from gateway.proxy import UPSTREAM_ERRORS
from services.charity.main import create_app as create_charity
from shared.identity import mint_assertion
from tests.conftest import ENGLISH, service_database, settings_for
from tests.gateway.conftest import bearer, free_port, gateway_client, serve_in_background


async def test_forwards_path_and_query_and_passes_the_identity(gateway):
    response = await gateway.get(
        "/api/eldercare/v1/elders", params={"limit": 1}, headers=bearer("staff-yinzhou", gateway.settings)
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"items", "next_cursor"}
    bad_limit = await gateway.get(
        "/api/eldercare/v1/elders", params={"limit": 0}, headers=bearer("staff-yinzhou", gateway.settings)
    )
    assert bad_limit.status_code == 422  # the query string reached the service unchanged


async def test_request_id_is_kept_when_sane_and_made_otherwise(gateway):
    kept = await gateway.get("/api/eldercare/v1/elders", headers={"X-Request-ID": "app-7f3a.42"})
    assert kept.headers["x-request-id"] == "app-7f3a.42"
    assert kept.json()["request_id"] == "app-7f3a.42"  # the service saw the same id
    for bad in ("has spaces", "x" * 200, "<script>"):
        replaced = await gateway.get("/api/eldercare/v1/elders", headers={"X-Request-ID": bad})
        assert replaced.headers["x-request-id"] != bad and len(replaced.headers["x-request-id"]) == 32
    made = await gateway.get("/api/eldercare/v1/elders")
    assert made.headers["x-request-id"] == made.json()["request_id"]


async def test_a_client_cannot_bring_its_own_identity_assertion(gateway):
    # Even an assertion signed with the right key is dropped: only the gateway speaks for callers.
    forged = mint_assertion(
        DEMO_PRINCIPALS["staff-city"], audience="eldercare", secret=gateway.settings.identity_secret
    )
    response = await gateway.get("/api/eldercare/v1/elders", headers={"X-Identity-Assertion": forged})
    assert response.status_code == 401


async def test_bad_tokens_are_401_problems(gateway):
    settings = gateway.settings
    now = int(time.time())
    claims = DEMO_PRINCIPALS["staff-city"].claims() | {"aud": TOKEN_AUDIENCE, "iss": TOKEN_ISSUER, "iat": now}
    expired = jwt.encode(claims | {"exp": now - 10}, settings.token_secret, algorithm="HS256")
    wrong_key = jwt.encode(
        claims | {"exp": now + 600}, "another-key-of-sufficient-length-0123456789", algorithm="HS256"
    )
    unsigned = jwt.encode(claims | {"exp": now + 600}, None, algorithm="none")
    wrong_audience = jwt.encode(
        claims | {"exp": now + 600, "aud": "elsewhere"}, settings.token_secret, algorithm="HS256"
    )
    for authorization in (
        f"Bearer {expired}",
        f"Bearer {wrong_key}",
        f"Bearer {unsigned}",
        f"Bearer {wrong_audience}",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ):
        response = await gateway.get("/api/eldercare/v1/elders", headers={"Authorization": authorization})
        assert response.status_code == 401, authorization
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
    assert (
        "expired"
        in (await gateway.get("/api/eldercare/v1/elders", headers={"Authorization": f"Bearer {expired}"})).json()[
            "detail"
        ]
    )


async def test_bodies_over_one_mebibyte_are_refused(gateway):
    headers = bearer("staff-yinzhou", gateway.settings) | {"content-type": "application/json"}
    big = b"[" + b"0," * (600 * 1024) + b"0]"
    response = await gateway.post("/api/eldercare/v1/elders", content=big, headers=headers)
    assert response.status_code == 413 and response.json()["type"] == "/problems/payload-too-large"

    async def chunks():  # no content-length: counted while it streams
        for _ in range(20):
            yield b" " * 65536

    response = await gateway.post("/api/eldercare/v1/elders", content=chunks(), headers=headers)
    assert response.status_code == 413


async def test_unknown_prefix_is_404(gateway):
    response = await gateway.get("/api/nothing/v1/x")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


async def test_a_service_down_is_503_and_a_hanging_one_504_each_naming_the_service(gateway):
    down = await gateway.get("/api/charity/v1/organizations")
    assert down.status_code == 503
    assert down.json()["service"] == "charity" and down.headers["retry-after"]
    slow = await gateway.get("/api/assistance/v1/policies")
    assert slow.status_code == 504 and slow.json()["service"] == "assistance"
    # The others are untouched.
    assert (await gateway.get("/api/eldercare/v1/elders")).status_code == 401


async def test_readiness_stays_200_while_services_are_down_and_reports_each_of_them(gateway):
    """A probe that failed with any one service would take every gateway pod out of rotation: a whole outage
    for one service's fault. The gateway is ready while it can serve; the services' states ride along."""
    response = await gateway.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    services = response.json()["services"]
    assert services["eldercare"]["status"] == "ready"
    assert {services[s]["status"] for s in ("assistance", "charity", "placenames")} == {"unreachable"}
    metrics = (await gateway.get("/metrics")).text
    assert 'gateway_upstream_ready{upstream="eldercare"} 1.0' in metrics
    assert 'gateway_upstream_ready{upstream="charity"} 0.0' in metrics


async def test_openapi_is_merged_and_docs_work_offline(gateway):
    document = (await gateway.get("/openapi.json")).json()
    assert "/api/eldercare/v1/elders" in document["paths"]
    assert "/api/auth/v1/dev-tokens" in document["paths"]
    assert "charity" in document["info"]["description"]  # said to be missing, not silently absent
    scopes = document["components"]["securitySchemes"]["gateway"]["flows"]["clientCredentials"]["scopes"]
    assert "eldercare.elders:read" in scopes and "held by" in scopes["eldercare.elders:write"]
    listing = document["paths"]["/api/eldercare/v1/elders"]["get"]
    assert listing["security"][0] == {"gateway": ["eldercare.elders:read"]}
    # The gateway's own problems on every service's route: busy (not sent) apart from timed out.
    assert "/problems/busy" in listing["responses"]["503"]["description"]
    assert "/problems/gateway-timeout" in listing["responses"]["504"]["description"]
    docs = await gateway.get("/docs")
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    asset = await gateway.get("/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


async def test_dev_tokens_carry_the_demo_principal(gateway):
    response = await gateway.post("/api/auth/v1/dev-tokens", json={"principal": "resident"})
    assert response.status_code == 200
    token = response.json()["access_token"]
    mine = await gateway.get("/api/eldercare/v1/elders", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    unknown = await gateway.post("/api/auth/v1/dev-tokens", json={"principal": "admin"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "principal"


async def test_production_has_no_dev_tokens_nor_docs_and_describes_its_api_to_token_holders_only(upstream_eldercare):
    """The rule (docs/security.md): in production the API description, merged or a service's own through the
    gateway, is served to callers with a valid bearer token only; Swagger UI and dev tokens are not there."""
    import httpx

    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(
        env="production",
        token_secret="t" * 40,
        identity_secret="i" * 40,
        upstream_eldercare=upstream_eldercare,
        resident_sign_in=False,  # no SMS provider here (tests/gateway/test_sms_provider.py)
    )
    app = create_app(settings)
    await app.startup()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=ENGLISH
        ) as client:
            assert (await client.post("/api/auth/v1/dev-tokens", json={"principal": "staff-city"})).status_code == 404
            for path in ("/docs", "/docs/static/swagger-ui-bundle.js"):
                assert (await client.get(path)).status_code == 404
            valid = bearer("partner", settings)
            forged = {"Authorization": "Bearer " + issue_token(DEMO_PRINCIPALS["partner"], "f" * 40, 600)}
            # An escaped dot is the same document to the service, so it is the same rule at the gateway.
            for path in ("/openapi.json", "/api/eldercare/v1/openapi.json", "/api/eldercare/v1/openapi%2Ejson"):
                for headers in ({}, forged, {"Authorization": "Basic dXNlcjpwYXNz"}):
                    refused = await client.get(path, headers=headers)
                    assert refused.status_code == 401, (path, headers)
                    assert refused.headers["content-type"] == "application/problem+json"
                    assert refused.headers["www-authenticate"] == "Bearer"
                assert "authenticated callers only" in (await client.get(path)).json()["detail"]
                described = await client.get(path, headers=valid)
                assert described.status_code == 200, described.text
                assert "/api/eldercare/v1/elders" in described.json()["paths"]
            merged = (await client.get("/openapi.json", headers=valid)).json()
            assert "/api/auth/v1/dev-tokens" not in merged["paths"]
            landing = await client.get("/")
            assert landing.status_code == 200 and landing.json()["api"] == "/api/<service>/v1/"
            assert "eldercare" in landing.json()["services"]
    finally:
        await app.shutdown()


async def test_outside_production_anyone_reads_the_descriptions_and_the_root_leads_to_the_docs(gateway):
    for path in ("/openapi.json", "/api/eldercare/v1/openapi.json"):
        assert (await gateway.get(path)).status_code == 200
    root = await gateway.get("/")
    assert root.status_code == 307 and root.headers["location"] == "/docs"  # relative: no internal address


async def test_the_merged_document_takes_a_pasted_bearer_token_on_every_secured_operation(gateway):
    document = (await gateway.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    secured = [
        (path, method, operation["security"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "security" in operation
    ]
    assert len(secured) > 20
    for path, method, security in secured:
        assert security[-1] == {"bearer": []} and security.count({"bearer": []}) == 1, (path, method)
    listing = document["paths"]["/api/eldercare/v1/elders"]["get"]
    assert listing["security"] == [{"gateway": ["eldercare.elders:read"]}, {"bearer": []}]
    assert document["paths"]["/api/auth/v1/grants"]["get"]["security"][-1] == {"bearer": []}
    again = (await gateway.get("/openapi.json")).json()  # built twice: still one alternative each
    assert again["paths"]["/api/auth/v1/grants"]["get"]["security"].count({"bearer": []}) == 1


def test_production_refuses_placeholder_secrets():
    import pytest
    from pydantic import ValidationError

    from gateway.settings import GatewaySettings

    with pytest.raises(ValidationError, match="token_secret"):
        GatewaySettings(env="production", identity_secret="i" * 40)


async def test_a_failing_service_trips_the_breaker_and_a_trial_closes_it_when_it_is_back(upstream_eldercare, db_dir):
    """Five failures in a row and the gateway stops calling the service (fast 503s that never reach it);
    once it listens again, the first request after the pause is the trial that closes the breaker."""
    port = free_port()
    database = await service_database("gateway", "sqlite", db_dir)
    async for gateway in gateway_client(
        database,
        upstream_eldercare=upstream_eldercare,
        upstream_charity=f"http://127.0.0.1:{port}",
        upstream_breaker_failures=5,
        upstream_breaker_pause_s=0.3,
    ):
        upstream = gateway.app.upstreams["charity"]
        unreachable = lambda: UPSTREAM_ERRORS.counts.get(("charity", "unreachable"), 0)  # noqa: E731
        refused = lambda: UPSTREAM_ERRORS.counts.get(("charity", "breaker_open"), 0)  # noqa: E731
        tried, skipped = unreachable(), refused()
        for _ in range(5):
            assert (await gateway.get("/api/charity/v1/organizations")).status_code == 503
        assert upstream.breaker.state == "open" and unreachable() == tried + 5
        fast = await gateway.get("/api/charity/v1/organizations")
        assert fast.status_code == 503 and fast.json()["service"] == "charity" and fast.headers["retry-after"] == "1"
        assert unreachable() == tried + 5 and refused() == skipped + 1  # refused without calling
        # Other services are not affected by charity's breaker.
        assert (await gateway.get("/api/eldercare/v1/elders")).status_code == 401

        charity = await service_database("charity", "sqlite", db_dir)
        server, task = await serve_in_background(create_charity(settings_for("charity", charity.url)), port)
        try:
            await asyncio.sleep(0.35)  # the pause ends: the next request is the trial
            assert upstream.breaker.state == "half_open"
            back = await gateway.get("/api/charity/v1/organizations")
            assert back.status_code == 200  # answered by charity itself
            assert upstream.breaker.state == "closed"
        finally:
            server.should_exit = True
            await task


async def test_the_breaker_state_of_each_upstream_is_on_the_metrics_page(gateway):
    for _ in range(5):
        await gateway.get("/api/charity/v1/organizations")
    text = (await gateway.get("/metrics")).text
    assert 'gateway_circuit_breaker_state{state="open",upstream="charity"} 1.0' in text
    assert 'gateway_circuit_breaker_state{state="closed",upstream="eldercare"} 1.0' in text


async def test_a_trailing_slash_is_a_404_that_names_the_path_and_never_an_internal_address(gateway):
    """A service's redirect would point at its own loopback address, behind the gateway."""
    headers = bearer("staff-yinzhou", gateway.settings)
    for path in ("/api/eldercare/v1/elders/", "/api/auth/v1/token/"):
        response = await gateway.get(path, headers=headers)
        assert response.status_code == 404, (path, response.text)
        assert "location" not in response.headers
        assert "127.0.0.1" not in response.text
    slashed = await gateway.get("/api/eldercare/v1/elders/", headers=headers)
    assert "/api/eldercare/v1/elders" in slashed.json()["detail"] and "trailing slash" in slashed.json()["detail"]
    assert (await gateway.get("/api/eldercare/v1/elders", headers=headers)).status_code == 200
