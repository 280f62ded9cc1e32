"""WeChat mini-program sign-in: the `code` from wx.login, exchanged for the user's openid.

The exchange is WeChat's `jscode2session` (GET /sns/jscode2session with the mini-program's appid and
secret). It sits behind `WeChatProvider` so tests run against a fake WeChat server on loopback and a
deployment without a mini-program says so plainly.
"""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from shared.errors import NotFound, ServiceUnavailable, Unauthorized
from shared.peer import tls_context

log = logging.getLogger("gateway.wechat")

# The user's code was wrong: 40029 invalid, 40163 already used, 40226 a risky user blocked by WeChat.
USER_ERRORS = frozenset({40029, 40163, 40226})


class WeChatProvider(Protocol):
    async def openid_for(self, code: str) -> str: ...


class NotConfigured:
    async def openid_for(self, code: str) -> str:
        raise NotFound("WeChat sign-in is not offered on this deployment (no mini-program configured)")


class JsCode2Session:
    def __init__(self, api_base: str, appid: str, secret: str, timeout_s: float = 3.0):
        self.url = api_base.rstrip("/") + "/sns/jscode2session"
        self.appid = appid
        self.secret = secret
        self.timeout_s = timeout_s

    async def openid_for(self, code: str) -> str:
        params = {"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, verify=tls_context()) as client:
                response = await client.get(self.url, params=params)
            body = response.json()  # WeChat may label its JSON text/plain
        except (httpx.HTTPError, ValueError) as error:
            log.warning("WeChat unreachable: %s", type(error).__name__)
            raise ServiceUnavailable("WeChat did not answer; try again shortly") from None
        if response.status_code != 200 or not isinstance(body, dict):
            raise ServiceUnavailable("WeChat did not answer; try again shortly")
        errcode = body.get("errcode")
        if errcode in USER_ERRORS:
            log.info("WeChat refused a code: errcode %s", errcode)
            raise Unauthorized("the WeChat login code is invalid or was already used; call wx.login again")
        if errcode:
            # A wrong appid or secret, or WeChat busy: our side or theirs, not the user's.
            log.warning("WeChat error %s: %s", errcode, body.get("errmsg"))
            raise ServiceUnavailable("WeChat sign-in is unavailable right now")
        openid = body.get("openid")
        if not isinstance(openid, str) or not openid:
            raise ServiceUnavailable("WeChat answered without an openid")
        return openid


def provider_from(settings) -> WeChatProvider:
    if settings.wechat_appid and settings.wechat_secret:
        return JsCode2Session(settings.wechat_api_base, settings.wechat_appid, settings.wechat_secret)
    return NotConfigured()
