"""Gathering the four services' `/indicators`: concurrently, with a deadline each, and a short cache.

Each answer becomes its panel by the layout (`gateway/cockpit/layout.py`, `gateway/cockpit/panels.py`).

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

import aiohttp

from gateway.cockpit import layout
from gateway.cockpit.layout import PANELS, Area, area_name
from gateway.cockpit.panels import build
from gateway.cockpit.schemas import CockpitOut, District, Panel
from shared import clock
from shared.request_id import request_id_var

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

    async def indicators(self, token: str, scopes: frozenset[str], area: Area, districts: list[District]) -> CockpitOut:
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
        panels = await asyncio.gather(*(self._panel(spec, token, area) for spec in PANELS))
        result = CockpitOut(
            area_code=area.code,
            area_name=area_name(area.code),
            cached=False,
            generated_at=clock.now(),
            panels=list(panels),
            districts=districts,
        )
        self._cache[key] = (time.monotonic() + self.cache_s, result)
        return result

    async def _panel(self, spec: layout.Panel, token: str, area: Area) -> Panel:
        params = (
            {spec.area_param: area.code}
            if spec.area_param == "area_code"
            else ({"district": area.district} if area.district else {})
        )
        # A trend asks for the days before today one call each (`day`); today is the panel's own answer.
        days = max((c.days for c in spec.charts if c.by == "day"), default=1)
        today = clock.today()
        fetches = [
            params,
            *({**params, "day": (today - dt.timedelta(days=n)).isoformat()} for n in range(days - 1, 0, -1)),
        ]
        answers = await asyncio.gather(*(self._get(spec.service, token, f) for f in fetches), return_exceptions=True)
        first = answers[0]
        if isinstance(first, BaseException):
            message = str(first) if isinstance(first, Unavailable) else "服务暂时不可用"
            if not isinstance(first, Unavailable):
                log.warning("cockpit fetch failed", extra={"fields": {"service": spec.service, "error": repr(first)}})
            return Panel(
                service=spec.service,
                title=spec.title,
                available=False,
                message=f"{spec.title}数据暂不可用：{message}。其余板块不受影响。",
            )
        try:
            return build(spec, first, [None if isinstance(a, BaseException) else a for a in answers[1:]], area)
        except Exception:  # a bug or a surprise in an answer must cost one panel, never the page
            log.exception("cockpit panel failed", extra={"fields": {"service": spec.service}})
            return Panel(
                service=spec.service,
                title=spec.title,
                available=False,
                message=f"{spec.title}数据格式无法识别，暂不可用。其余板块不受影响。",
            )

    async def _get(self, service: str, token: str, params: dict[str, str]) -> dict:
        upstream = self.gateway.upstreams.get(service)
        if upstream is None:
            raise Unavailable("未配置该服务")
        assertion, _ = self.gateway.authenticator.assertion(token, service)
        headers = {"x-identity-assertion": assertion, "accept": "application/json"}
        request_id = request_id_var.get(None)
        if request_id:
            headers["x-request-id"] = request_id
        url = f"{upstream.base_url}/api/{service}/v1/indicators"
        try:
            async with upstream.session.get(
                url, params=params, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            ) as response:
                if response.status != 200:
                    raise Unavailable(_problem_words(response.status))
                body = await response.json(content_type=None)
        except TimeoutError:
            raise Unavailable(f"服务 {self.timeout_s:g} 秒内无响应") from None
        except aiohttp.ClientConnectionError:
            raise Unavailable("无法连接到服务") from None
        except (aiohttp.ClientError, ValueError):
            raise Unavailable("服务返回了无法识别的内容") from None
        if not isinstance(body, dict):
            raise Unavailable("服务返回了无法识别的内容")
        return body
