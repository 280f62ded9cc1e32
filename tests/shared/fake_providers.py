"""Fake third-party providers on real loopback ports: Tencent Cloud SMS and WeChat subscription messages.

The fake SMS provider checks what Tencent checks: the TC3-HMAC-SHA256 signature over the request (its
canonical form, the credential scope of the day and service, the secret key of the SecretId), the action and
version headers and the request's fields. It records what it accepted and can be told to fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import json
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.shared.loopback import free_port, serve_in_background

SECRET_ID = "AKIDtestsecretid0000000000000000"
SECRET_KEY = "test-secret-key-for-the-fake-provider"
APP_ID = "1400000000"
SIGN_NAME = "宁波民政"


def tc3_signature(secret_key: str, *, method: str, host: str, content_type: str, body: bytes, timestamp: str) -> str:
    """Tencent Cloud's TC3-HMAC-SHA256 signature of a request, computed independently of the SDK."""
    canonical = "\n".join(
        [
            method,
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    date = dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d")
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("TC3" + secret_key).encode()
    for part in (date, "sms", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class Server:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    def app(self) -> Starlette:
        raise NotImplementedError

    async def start(self):
        self._server, self._task = await serve_in_background(self.app(), self.port)

    async def stop(self):
        if self._server is not None:
            self._server.should_exit = True
            await self._task
            self._server = None


class FakeTencentSms(Server):
    def __init__(self):
        super().__init__()
        self.sent: list[dict] = []  # accepted messages: phone, template, params, reference
        self.refused: list[str] = []  # why requests were refused (a bad signature, a missing field)
        self.fail_next = 0  # answer this many sends with a provider error
        self.serials = itertools.count(1)

    def reset(self):
        self.sent.clear()
        self.refused.clear()
        self.fail_next = 0

    def app(self) -> Starlette:
        async def api(request: Request):
            body = await request.body()
            headers = request.headers
            try:
                algorithm, _, rest = headers["authorization"].partition(" ")
                fields = dict(part.strip().split("=", 1) for part in rest.split(","))
                secret_id, date, service, terminator = fields["Credential"].split("/")
                expected = tc3_signature(
                    SECRET_KEY,
                    method=request.method,
                    host=headers["host"],
                    content_type=headers["content-type"],
                    body=body,
                    timestamp=headers["x-tc-timestamp"],
                )
                problems = [
                    name
                    for name, ok in [
                        ("algorithm", algorithm == "TC3-HMAC-SHA256"),
                        ("secret id", secret_id == SECRET_ID),
                        ("scope", service == "sms" and terminator == "tc3_request"),
                        ("date", date == time.strftime("%Y-%m-%d", time.gmtime(int(headers["x-tc-timestamp"])))),
                        ("signed headers", fields["SignedHeaders"] == "content-type;host"),
                        ("signature", hmac.compare_digest(fields["Signature"], expected)),
                        ("action", headers["x-tc-action"] == "SendSms"),
                        ("version", headers["x-tc-version"] == "2021-01-11"),
                        ("region", bool(headers.get("x-tc-region"))),
                    ]
                    if not ok
                ]
            except (KeyError, ValueError) as error:
                problems = [f"malformed: {error}"]
            if problems:
                self.refused.append(", ".join(problems))
                error = {"Code": "AuthFailure.SignatureFailure", "Message": ", ".join(problems)}
                return JSONResponse({"Response": {"Error": error, "RequestId": "fake"}})
            payload = json.loads(body)
            if payload.get("SmsSdkAppId") != APP_ID or payload.get("SignName") != SIGN_NAME:
                self.refused.append("app id or signature name")
                error = {"Code": "InvalidParameterValue.SdkAppIdNotExist", "Message": "app"}
                return JSONResponse({"Response": {"Error": error, "RequestId": "fake"}})
            (phone,) = payload["PhoneNumberSet"]
            if self.fail_next > 0:
                self.fail_next -= 1
                status = {"Code": "FailedOperation.ContainDomesticAndInternationalPhoneNumber", "Message": "busy"}
                status |= {"SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": "", "IsoCode": "CN"}
                return JSONResponse({"Response": {"SendStatusSet": [status], "RequestId": "fake"}})
            serial = f"fake-{next(self.serials)}"
            self.sent.append(
                {
                    "phone": phone,
                    "template": payload["TemplateId"],
                    "params": payload.get("TemplateParamSet", []),
                    "reference": payload.get("SessionContext", ""),
                }
            )
            status = {"Code": "Ok", "Message": "send success", "SerialNo": serial, "PhoneNumber": phone, "Fee": 1}
            status |= {"SessionContext": payload.get("SessionContext", ""), "IsoCode": "CN"}
            return JSONResponse({"Response": {"SendStatusSet": [status], "RequestId": "fake"}})

        return Starlette(routes=[Route("/", api, methods=["POST"])])

    def environment(self, templates: dict[str, str]) -> dict[str, str]:
        """The SMS_* settings that point the real provider code at this fake."""
        return {
            "SMS_PROVIDER": "tencent",
            "SMS_SECRET_ID": SECRET_ID,
            "SMS_SECRET_KEY": SECRET_KEY,
            "SMS_APP_ID": APP_ID,
            "SMS_SIGN_NAME": SIGN_NAME,
            "SMS_ENDPOINT": self.url,
            "SMS_TEMPLATES": json.dumps(templates),
        }


class FakeWeChat(Server):
    """WeChat's access token (GET /cgi-bin/token), subscription messages (POST /cgi-bin/message/subscribe/send),
    and the mini-program sign-in (GET /sns/jscode2session: the openid is `openid-<code>`)."""

    APPID, SECRET = "wx-test-appid", "wx-test-secret"

    def __init__(self):
        super().__init__()
        self.sent: list[dict] = []
        self.tokens_issued = 0
        self.refuse_openids: set[str] = set()  # people who did not accept the template (errcode 43101)

    def reset(self):
        self.sent.clear()
        self.refuse_openids.clear()

    def app(self) -> Starlette:
        async def token(request: Request):
            q = request.query_params
            if (q.get("appid"), q.get("secret"), q.get("grant_type")) != (self.APPID, self.SECRET, "client_credential"):
                return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
            self.tokens_issued += 1
            return JSONResponse({"access_token": f"token-{self.tokens_issued}", "expires_in": 7200})

        async def send(request: Request):
            if request.query_params.get("access_token") != f"token-{self.tokens_issued}":
                return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
            body = await request.json()
            if body["touser"] in self.refuse_openids:
                return JSONResponse({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            self.sent.append(body)
            return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)})

        async def jscode2session(request: Request):
            code = request.query_params.get("js_code", "")
            return JSONResponse({"openid": f"openid-{code}", "session_key": "k"})

        return Starlette(
            routes=[
                Route("/sns/jscode2session", jscode2session, methods=["GET"]),
                Route("/cgi-bin/token", token, methods=["GET"]),
                Route("/cgi-bin/message/subscribe/send", send, methods=["POST"]),
            ]
        )

    def environment(self, templates: dict[str, str]) -> dict[str, str]:
        return {
            "WECHAT_API_BASE": self.url,
            "WECHAT_APPID": self.APPID,
            "WECHAT_SECRET": self.SECRET,
            "WECHAT_TEMPLATES": json.dumps(templates),
        }


@pytest.fixture(scope="session")
async def fake_sms_server():
    fake = FakeTencentSms()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_sms(fake_sms_server):
    fake_sms_server.reset()
    yield fake_sms_server
    fake_sms_server.reset()


@pytest.fixture(scope="session")
async def fake_wechat_server():
    fake = FakeWeChat()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_wechat_messages(fake_wechat_server):
    fake_wechat_server.reset()
    yield fake_wechat_server
    fake_wechat_server.reset()
