"""WeChat subscription messages (订阅消息) to a mini-program's users, by their openid.

A person accepts a template in the mini-program (wx.requestSubscribeMessage); the server then sends
`POST /cgi-bin/message/subscribe/send?access_token=…` with the template's fields. The access token comes from
`GET /cgi-bin/token` with the mini-program's appid and secret, lasts two hours and is cached. Suite-wide settings
(`WECHAT_*`), so every worker reads the same; `WECHAT_API_BASE` points tests at a fake WeChat on loopback.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.peer import tls_context

# errcode: 43101 the person did not accept (or used up) the template; 40003 not an openid of this app;
# 47003 the fields do not fit the template. Retrying will not help any of them.
REFUSED = frozenset({43101, 40003, 47003})
TOKEN_EXPIRED = frozenset({40001, 42001})


class WeChatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WECHAT_", extra="ignore")

    api_base: str = "https://api.weixin.qq.com"
    appid: str = ""
    secret: str = ""
    timeout_s: float = Field(5.0, gt=0, le=60)
    # Approved subscription templates by kind: {"call.raised": "<template id>", ...}. A kind without one is not
    # sent by WeChat. Assumption: each template's fields are `thing1`, `thing2`, … in the order of the
    # notification's parameters (each at most 20 characters, WeChat's limit for a `thing`).
    templates: dict[str, str] = Field(default_factory=dict)
    # The mini-program page a message opens.
    page: str = "pages/messages/index"


class WeChatRefused(Exception):
    """This message can never go (the person did not subscribe, or the template does not fit)."""


class WeChatUnavailable(Exception):
    """WeChat did not take it this time: try again later."""


class SubscribeMessages:
    def __init__(self, settings: WeChatSettings):
        self.settings = settings
        self.base = settings.api_base.rstrip("/")
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=settings.timeout_s, verify=tls_context())

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._lock:
            if self._token and not renew and time.monotonic() < self._expires - 300:
                return self._token
            params = {"grant_type": "client_credential", "appid": self.settings.appid, "secret": self.settings.secret}
            try:
                body = (await self._http.get(f"{self.base}/cgi-bin/token", params=params)).json()
            except (httpx.HTTPError, ValueError) as error:
                raise WeChatUnavailable(f"WeChat token: {type(error).__name__}") from None
            if not isinstance(body, dict) or not body.get("access_token"):
                raise WeChatUnavailable(
                    f"WeChat token: errcode {body.get('errcode') if isinstance(body, dict) else '?'}"
                )
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body.get("expires_in", 7200))
            return self._token

    async def send(self, openid: str, kind: str, params: list[str]) -> str:
        template_id = self.settings.templates.get(kind)
        if not template_id:
            raise WeChatRefused(f"no WeChat template for {kind!r} (WECHAT_TEMPLATES)")
        message = {
            "touser": openid,
            "template_id": template_id,
            "page": self.settings.page,
            "data": {f"thing{i}": {"value": value[:20]} for i, value in enumerate(params, start=1)},
        }
        for renew in (False, True):  # one retry with a fresh token when WeChat says ours expired
            token = await self._access_token(renew=renew)
            try:
                response = await self._http.post(
                    f"{self.base}/cgi-bin/message/subscribe/send", params={"access_token": token}, json=message
                )
                body = response.json()
            except (httpx.HTTPError, ValueError) as error:
                raise WeChatUnavailable(f"WeChat: {type(error).__name__}") from None
            errcode = body.get("errcode", -1) if isinstance(body, dict) else -1
            if errcode == 0:
                return str(body.get("msgid", ""))
            if errcode in REFUSED:
                raise WeChatRefused(f"WeChat refused the message: errcode {errcode}")
            if errcode not in TOKEN_EXPIRED:
                break
        raise WeChatUnavailable(f"WeChat did not send: errcode {errcode}")

    async def aclose(self) -> None:
        await self._http.aclose()


def subscribe_messages(settings: WeChatSettings | None = None) -> SubscribeMessages | None:
    """The sender when a mini-program is configured (appid and secret), else None: no WeChat channel."""
    settings = settings or WeChatSettings()
    if settings.appid and settings.secret:
        return SubscribeMessages(settings)
    return None
