"""WeChat mini-program sign-in against a fake WeChat server on loopback."""

import ssl

import pytest
from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from gateway.auth.models import Resident
from gateway.auth.wechat import JsCode2Session, NotConfigured
from shared.demo import DEMO_RESIDENT_SUBJECT
from shared.peer import tls_context
from tests.gateway.conftest import free_port, serve_in_background

APPID, SECRET = "wx-test-app", "wx-test-secret"


@pytest.fixture(scope="module")
async def fake_wechat():
    """Answers jscode2session as WeChat does: JSON labelled text/plain, errcode on failure."""
    wechat = FastAPI()
    seen: list[dict] = []

    @wechat.get("/sns/jscode2session")
    async def jscode2session(appid: str, secret: str, js_code: str, grant_type: str = Query()):
        seen.append({"appid": appid, "secret": secret, "grant_type": grant_type})
        if appid != APPID or secret != SECRET:
            return PlainTextResponse('{"errcode": 40125, "errmsg": "invalid appsecret"}')
        if js_code.startswith("good-"):
            return PlainTextResponse(f'{{"openid": "o-{js_code[5:]}", "session_key": "k"}}')
        return PlainTextResponse('{"errcode": 40029, "errmsg": "invalid code"}')

    port = free_port()
    server, _task = await serve_in_background(wechat, port)
    yield f"http://127.0.0.1:{port}", seen
    server.should_exit = True


def use_wechat(gateway, base_url: str, secret: str = SECRET):
    gateway.app.local_app.state.wechat = JsCode2Session(base_url, APPID, secret, timeout_s=2)


async def sign_in(gateway, code: str):
    return await gateway.post("/api/auth/v1/wechat-sign-ins", json={"code": code})


async def test_a_wechat_user_signs_in_and_keeps_one_account(auth_gateway, fake_wechat):
    base_url, seen = fake_wechat
    use_wechat(auth_gateway, base_url)
    first = await sign_in(auth_gateway, "good-alice")
    assert first.status_code == 200, first.text
    assert seen[-1] == {"appid": APPID, "secret": SECRET, "grant_type": "authorization_code"}
    principal, _ = auth_gateway.app.authenticator.principal(first.json()["access_token"])
    assert principal.kind == "resident" and "o-alice" not in principal.subject
    again, _ = auth_gateway.app.authenticator.principal(
        (await sign_in(auth_gateway, "good-alice")).json()["access_token"]
    )
    other, _ = auth_gateway.app.authenticator.principal(
        (await sign_in(auth_gateway, "good-bob")).json()["access_token"]
    )
    assert again.subject == principal.subject and other.subject != principal.subject
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        # The seed's demo resident aside.
        stored = (await session.scalars(select(Resident).where(Resident.subject != DEMO_RESIDENT_SUBJECT))).all()
    assert len(stored) == 2 and all("o-alice" not in (r.wechat_index or "") for r in stored)


async def test_an_invalid_code_is_401_and_wechat_trouble_is_503(auth_gateway, fake_wechat):
    base_url, _ = fake_wechat
    use_wechat(auth_gateway, base_url)
    refused = await sign_in(auth_gateway, "stale-code")
    assert refused.status_code == 401 and "wx.login" in refused.json()["detail"]
    use_wechat(auth_gateway, base_url, secret="wrong")  # our own misconfiguration is not the user's fault
    assert (await sign_in(auth_gateway, "good-alice")).status_code == 503
    use_wechat(auth_gateway, f"http://127.0.0.1:{free_port()}")  # WeChat unreachable
    down = await sign_in(auth_gateway, "good-alice")
    assert down.status_code == 503 and down.headers["content-type"] == "application/problem+json"


async def test_without_a_mini_program_it_says_so(auth_gateway):
    auth_gateway.app.local_app.state.wechat = NotConfigured()
    response = await sign_in(auth_gateway, "good-alice")
    assert response.status_code == 404 and "not offered" in response.json()["detail"]
    assert (await auth_gateway.post("/api/auth/v1/wechat-sign-ins", json={"code": ""})).status_code == 422


async def test_a_sign_in_builds_no_tls_context_on_the_event_loop(auth_gateway, fake_wechat, monkeypatch):
    # About 25 ms of CPU each, in which no other request of the gateway moves (shared.peer.tls_context).
    base_url, _ = fake_wechat
    use_wechat(auth_gateway, base_url)
    tls_context()
    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(*a, **k))
    for name in ("carol", "dave"):
        assert (await sign_in(auth_gateway, f"good-{name}")).status_code == 200
    assert built == []
