"""Gathering the four services' indicators: concurrently, with a deadline each, and a short cache.

The calls go straight to each service over the gateway's own pooled upstream sessions, carrying an identity
assertion minted from the caller's own bearer token (as the proxy does). So each service applies its own
area rules to the real member of staff and logs who asked, no privileged cockpit account exists, and the
calls skip a second trip through the proxy and its rate limits. The cache is keyed by area and the caller's
scopes: two callers who share both are entitled to exactly the same figures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import aiohttp

from gateway.cockpit.adapters import ADAPTERS, Adapter, Area, area_name
from gateway.cockpit.schemas import CockpitOut, District, Panel
from shared.logs import request_id_var

log = logging.getLogger("gateway.cockpit")

CACHE_S = 15.0
FETCH_TIMEOUT_S = 5.0  # a slow service costs its panel, never the page; the cache absorbs the wait


class Unavailable(Exception):
    """A service could not give its figures; the message is shown on the page as it is."""


def _problem_words(status: int) -> str:
    if status in (401, 403):
        return f"无权读取该服务的指标（HTTP {status}）"
    if status == 404:
        return "该服务尚未提供指标接口（HTTP 404）"
    return f"服务暂时不可用（HTTP {status}）"


class Cockpit:
    def __init__(self, gateway, cache_s: float = CACHE_S, timeout_s: float = FETCH_TIMEOUT_S):
        self.gateway = gateway  # its upstream sessions exist only once it has started
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._cache: dict[tuple, tuple[float, CockpitOut]] = {}
        self._inflight: dict[tuple, asyncio.Future] = {}

    async def indicators(self, token: str, scopes: frozenset[str], area: Area,
                         districts: list[District]) -> CockpitOut:
        key = (area.code, scopes)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1].model_copy(update={"cached": True})
        # One gathering per key at a time, in a task of its own: a wall of screens refreshing together asks
        # the services once, and a caller who goes away does not cancel it for the others.
        task = self._inflight.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.create_task(self._gather(key, token, area, districts))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        result = await asyncio.shield(task)
        return result.model_copy(update={"cached": True}) if joined else result

    async def _gather(self, key: tuple, token: str, area: Area, districts: list[District]) -> CockpitOut:
        panels = await asyncio.gather(*(self._panel(adapter, token, area) for adapter in ADAPTERS))
        result = CockpitOut(area_code=area.code, area_name=area_name(area.code), cached=False,
                            generated_at=dt.datetime.now(dt.timezone.utc), panels=list(panels), districts=districts)
        self._cache[key] = (time.monotonic() + self.cache_s, result)
        return result

    async def _panel(self, adapter: Adapter, token: str, area: Area) -> Panel:
        fetches = adapter.fetches(area)
        answers = await asyncio.gather(*(self._get(adapter.service, token, f) for f in fetches),
                                       return_exceptions=True)
        first = answers[0]
        if isinstance(first, BaseException):
            message = str(first) if isinstance(first, Unavailable) else "服务暂时不可用"
            if not isinstance(first, Unavailable):
                log.warning("cockpit fetch failed", extra={"fields": {"service": adapter.service,
                                                                      "error": repr(first)}})
            return Panel(service=adapter.service, title=adapter.title, available=False,
                         message=f"{adapter.title}数据暂不可用：{message}。其余板块不受影响。")
        try:
            built = adapter.build(area, [None if isinstance(a, BaseException) else a for a in answers])
        except Exception:  # a reshaped answer must cost one panel, never the page
            log.exception("cockpit adapter failed", extra={"fields": {"service": adapter.service}})
            return Panel(service=adapter.service, title=adapter.title, available=False,
                         message=f"{adapter.title}数据格式无法识别，暂不可用。其余板块不受影响。")
        values = [i.value for i in built.indicators if i.available]
        empty = bool(values) and all(not v for v in values) and not area.is_city
        missing = sum(not i.available for i in built.indicators)
        message = None
        if not values:
            message = "该服务未提供任何可识别的指标"
        elif empty:
            message = f"{area_name(area.code)}暂无{adapter.title}业务数据（各项均为 0）"
        return Panel(service=adapter.service, title=adapter.title, available=bool(values), empty=empty,
                     message=message if message else (f"{missing} 项指标暂无数据" if missing else None),
                     area_note=built.area_note, as_of=_as_of(first), indicators=built.indicators,
                     charts=built.charts)

    async def _get(self, service: str, token: str, fetch) -> Any:
        upstream = self.gateway.upstreams.get(service)
        if upstream is None:
            raise Unavailable("未配置该服务")
        assertion, _ = self.gateway.authenticator.assertion(token, service)
        headers = {"x-identity-assertion": assertion, "accept": "application/json"}
        request_id = request_id_var.get(None)
        if request_id:
            headers["x-request-id"] = request_id
        url = f"{upstream.base_url}/api/{service}/v1{fetch.path}"
        try:
            async with upstream.session.get(url, params=fetch.params, headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
                if response.status != 200:
                    raise Unavailable(_problem_words(response.status))
                body = await response.json(content_type=None)
        except asyncio.TimeoutError:
            raise Unavailable(f"服务 {self.timeout_s:g} 秒内无响应") from None
        except aiohttp.ClientConnectionError:
            raise Unavailable("无法连接到服务") from None
        except (aiohttp.ClientError, ValueError):
            raise Unavailable("服务返回了无法识别的内容") from None
        if not isinstance(body, dict):
            raise Unavailable("服务返回了无法识别的内容")
        return body


def _as_of(answer: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(answer.get("as_of")) if isinstance(answer, dict) and answer.get("as_of") else None
    except (TypeError, ValueError):
        return None
