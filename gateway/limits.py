"""Per-caller rate limits: token buckets, in Redis when REDIS_URL is set (shared by every gateway
replica), in process memory otherwise.

A bucket holds up to `burst` requests and refills at `rate` per second. Callers are keyed by who they
are (principal kind and subject) or, when anonymous, by their address.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens added per second
    burst: int  # bucket size


class Buckets(Protocol):
    async def take(self, key: str, limit: Limit) -> float:
        """0 if the request may go ahead, else the seconds to wait before retrying."""

    async def close(self) -> None: ...


class MemoryBuckets:
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    async def take(self, key: str, limit: Limit) -> float:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.rate)
        if tokens >= 1:
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._buckets.clear()  # crude but bounded: a flood of new keys cannot exhaust memory
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / limit.rate

    async def close(self) -> None:
        return None


# Atomic in Redis: read, refill, take, write, expire. Time comes from Redis so replicas agree.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisBuckets:
    def __init__(self, url: str) -> None:
        self._client = redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._script = self._client.register_script(_TAKE)

    async def take(self, key: str, limit: Limit) -> float:
        try:
            return float(await self._script(keys=[f"ratelimit:{key}"], args=[limit.rate, limit.burst]))
        except (redis.RedisError, OSError):
            # Redis down must not take the suite down: admit, and let the services' own limits hold.
            return 0.0

    async def close(self) -> None:
        await self._client.aclose()


def retry_after_header(wait_s: float) -> bytes:
    return str(max(1, math.ceil(wait_s))).encode()
