"""One or more tests for each OWASP API Security Top 10 (2023) risk, against the real gateway and services.

Each test names the risk it covers. Many risks are also covered where the feature lives (tests/gateway,
tests/<service>); these are the attacker's-eye versions, through the front door.
"""

import datetime as dt
import json
import time

import jwt
import pytest
from stdnum.cn import ric

from gateway.principals import DEMO_PRINCIPALS, TOKEN_AUDIENCE, TOKEN_ISSUER
from gateway.seed import DEMO_PASSWORD
from tests.gateway.conftest import bearer

ELDERS = "/api/eldercare/v1/elders"


def id_number(serial: str, birth=dt.date(1948, 8, 8), division="330212") -> str:
    base = f"{division}{birth:%Y%m%d}{serial}"
    return base + ric.calc_check_digit(base + "0")


def elder(serial: str, **extra) -> dict:
    return {
        "id_number": id_number(serial),
        "name": "测试老人",
        "address": "鄞州区百丈街道1号",
        "area_code": "330212008",  # 百丈街道
        **extra,
    }


async def staff_token(gateway, username: str) -> dict[str, str]:
    response = await gateway.post("/api/auth/v1/staff-sign-ins", json={"username": username, "password": DEMO_PASSWORD})
    return {"Authorization": "Bearer " + response.json()["access_token"]}


async def test_api1_broken_object_level_authorization(front_door):
    """A resident cannot read an older person they do not care for; staff cannot read outside their area."""
    yinzhou = bearer("staff-yinzhou", front_door.settings)
    created = await front_door.post(ELDERS, json=elder("101"), headers=yinzhou)
    assert created.status_code == 201, created.text
    elder_id = created.json()["id"]
    stranger = bearer("resident", front_door.settings)  # a resident with no relation to this person
    response = await front_door.get(f"{ELDERS}/{elder_id}", headers=stranger)
    assert response.status_code == 404  # the same answer as for a person who does not exist
    missing = await front_door.get(f"{ELDERS}/999999", headers=stranger)
    assert missing.status_code == 404 and response.json()["detail"].split()[0] == missing.json()["detail"].split()[0]
    street = await staff_token(front_door, "baizhang-demo")  # 百丈街道 330212008: sees it
    assert (await front_door.get(f"{ELDERS}/{elder_id}", headers=street)).status_code == 200
    # Another district's staff, with a token minted for them.
    from gateway.principals import issue_token
    from shared.identity import Principal

    other = Principal(
        subject="staff:haishu", kind="staff", scopes=DEMO_PRINCIPALS["staff-yinzhou"].scopes, area="330203"
    )
    other_headers = {"Authorization": "Bearer " + issue_token(other, front_door.settings.token_secret, 600)}
    assert (await front_door.get(f"{ELDERS}/{elder_id}", headers=other_headers)).status_code == 404


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 forgery, on purpose
async def test_api2_broken_authentication(front_door):
    """Expired, unsigned, algorithm-swapped and wrong-audience tokens are refused; guessing locks out."""
    settings = front_door.settings
    now = int(time.time())
    claims = DEMO_PRINCIPALS["staff-city"].claims() | {"aud": TOKEN_AUDIENCE, "iss": TOKEN_ISSUER, "iat": now}
    forged = [
        jwt.encode(claims | {"exp": now - 1}, settings.token_secret, algorithm="HS256"),
        jwt.encode(claims | {"exp": now + 600}, None, algorithm="none"),
        jwt.encode(claims | {"exp": now + 600}, settings.token_secret, algorithm="HS512"),  # algorithm swap
        jwt.encode(claims | {"exp": now + 600}, settings.identity_secret, algorithm="HS256"),  # the services' key
        jwt.encode(claims | {"exp": now + 600, "aud": "eldercare"}, settings.token_secret, algorithm="HS256"),
    ]
    for token in forged:
        response = await front_door.get(ELDERS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, jwt.get_unverified_header(token)
    for _ in range(5):
        await front_door.post("/api/auth/v1/staff-sign-ins", json={"username": "yinzhou-demo", "password": "x"})
    locked = await front_door.post(
        "/api/auth/v1/staff-sign-ins", json={"username": "yinzhou-demo", "password": DEMO_PASSWORD}
    )
    assert locked.status_code == 401


async def test_api3_broken_object_property_level_authorization(front_door):
    """Mass assignment is refused, and responses never carry personal data in the clear."""
    yinzhou = bearer("staff-yinzhou", front_door.settings)
    for sneaky in (
        {"id": 1},
        {"registered_by": "staff:city"},
        {"approved": True},
        {"created_at": "2020-01-01T00:00:00Z"},
    ):
        response = await front_door.post(ELDERS, json=elder("102", **sneaky), headers=yinzhou)
        assert response.status_code == 422, sneaky
        assert response.json()["errors"][0]["field"] == next(iter(sneaky))
    created = await front_door.post(ELDERS, json=elder("103", phone="13805749999"), headers=yinzhou)
    body = json.dumps(created.json(), ensure_ascii=False)
    assert id_number("103") not in body and "13805749999" not in body


async def test_api4_unrestricted_resource_consumption(front_door):
    """Page sizes, body sizes and request rates are bounded."""
    yinzhou = bearer("staff-yinzhou", front_door.settings)
    assert (await front_door.get(ELDERS, params={"limit": 101}, headers=yinzhou)).status_code == 422
    huge = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    assert (await front_door.post(ELDERS, content=huge, headers=yinzhou)).status_code == 413
    too_long = await front_door.post(ELDERS, json=elder("104", name="长" * 51), headers=yinzhou)
    assert too_long.status_code == 422


async def test_api5_broken_function_level_authorization(front_door):
    """A resident cannot use staff functions; district staff cannot use city functions."""
    resident = bearer("resident", front_door.settings)
    assert (await front_door.post(ELDERS, json=elder("105"), headers=resident)).status_code == 403
    district = await staff_token(front_door, "yinzhou-demo")
    client = {"client_id": "rogue", "name": "x", "kind": "partner", "scopes": ["eldercare.elders:read"]}
    assert (await front_door.post("/api/auth/v1/clients", json=client, headers=district)).status_code == 403
    partner = bearer("partner", front_door.settings)
    assert (await front_door.get(ELDERS, headers=partner)).status_code == 403


async def test_api6_unrestricted_access_to_sensitive_business_flows(front_door):
    """SMS sign-in codes cannot be pumped: one a minute per phone (and a per-address brake on top)."""
    sent = []

    class Recorder:
        async def send(self, phone, code):
            sent.append(phone)

    front_door.app.local_app.state.code_sender = Recorder()
    statuses = [
        (await front_door.post("/api/auth/v1/code-requests", json={"phone": "13900000001"})).status_code
        for _ in range(3)
    ]
    assert statuses == [202, 429, 429] and len(sent) == 1


async def test_api7_server_side_request_forgery(front_door):
    """No request field takes a URL, and the gateway only ever calls its configured upstreams."""
    document = (await front_door.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    request_schemas = {
        ref.rsplit("/", 1)[1]
        for item in document["paths"].values()
        for operation in item.values()
        for ref in _refs(operation.get("requestBody", {}))
    }
    assert request_schemas, "no request bodies found: the check would prove nothing"
    suspicious = [
        f"{schema}.{name}"
        for schema in request_schemas
        for name, prop in schemas.get(schema, {}).get("properties", {}).items()
        if prop.get("format") == "uri" or any(w in name.lower() for w in ("url", "uri", "callback", "webhook"))
    ]
    assert suspicious == [], suspicious
    # A Host header or an absolute-form target does not steer the proxy elsewhere.
    response = await front_door.get(ELDERS, headers={"Host": "169.254.169.254"})
    assert response.status_code == 401  # reached eldercare (which wants a token), not the metadata address


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_api8_security_misconfiguration(front_door):
    """Errors are problem+json without internals; production refuses placeholder secrets."""
    from pydantic import ValidationError

    from gateway.settings import GatewaySettings
    from services.eldercare.settings import EldercareSettings

    bad = await front_door.post(
        ELDERS,
        content=b"{not json",
        headers=bearer("staff-yinzhou", front_door.settings) | {"content-type": "application/json"},
    )
    assert bad.status_code == 422 and "Traceback" not in bad.text and 'File "' not in bad.text
    with pytest.raises(ValidationError):
        GatewaySettings(env="production")
    with pytest.raises(ValidationError):
        EldercareSettings(env="production")


async def test_api9_improper_inventory_management():
    """Production exposes no docs and no dev-token route, at the gateway or at a service, and its API description
    to token holders only."""
    import httpx

    from gateway.app import create_app
    from gateway.settings import GatewaySettings
    from services.eldercare.main import create_app as create_eldercare
    from services.eldercare.settings import EldercareSettings

    secrets = {"identity_secret": "i" * 40}
    gateway = create_app(
        GatewaySettings(
            env="production",
            token_secret="t" * 40,
            **secrets,
            database_url="sqlite+aiosqlite:///:memory:",
            resident_sign_in=False,
        )
    )
    service = create_eldercare(EldercareSettings(env="production", **secrets))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.local_app), base_url="http://g") as g:
        for path in ("/docs", "/redoc"):
            assert (await g.get(path)).status_code == 404
        # The API description goes to token holders only (docs/security.md; tests/gateway/test_gateway.py).
        assert (await g.get("/openapi.json")).status_code == 401
        assert (await g.post("/api/auth/v1/dev-tokens", json={"principal": "staff-city"})).status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url="http://s") as s:
        assert (await s.get("/api/eldercare/v1/docs")).status_code == 404


async def test_api10_unsafe_consumption_of_apis():
    """A peer that answers garbage or redirects is treated as unavailable, never trusted."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse, RedirectResponse

    from shared.peer import PeerClient, PeerUnavailable
    from tests.gateway.conftest import free_port, serve_in_background

    peer = FastAPI()

    @peer.post("/garbage")
    async def garbage():
        return PlainTextResponse("<html>not json</html>")

    @peer.post("/elsewhere")
    async def elsewhere():
        # A redirect that even carries a plausible JSON body: neither followed nor believed.
        response = RedirectResponse("http://169.254.169.254/latest/meta-data", status_code=307)
        response.body = b'{"programmes": [{"code": "tekun"}]}'
        response.headers["content-type"] = "application/json"
        response.headers["content-length"] = str(len(response.body))
        return response

    port = free_port()
    server, _task = await serve_in_background(peer, port)
    client = PeerClient("peer", f"http://127.0.0.1:{port}", timeout_s=1)
    try:
        with pytest.raises(PeerUnavailable, match="not JSON"):
            await client.post_json("/garbage", {})
        with pytest.raises(PeerUnavailable, match="HTTP 307"):
            await client.post_json("/elsewhere", {})
    finally:
        await client.aclose()
        server.should_exit = True
