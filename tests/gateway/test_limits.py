"""Rate limits: per caller, 429 with Retry-After, shared across replicas through Redis."""

import asyncio
import os
import uuid

import pytest

from gateway.limits import Limit, RedisBuckets
from gateway.seed import DEMO_PASSWORD
from tests.conftest import service_database
from tests.gateway.conftest import bearer, gateway_client

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def strict_gateway(upstream_eldercare, db_dir):
    database = await service_database("gateway", "sqlite", db_dir)
    limits = {
        "anonymous": "1/3",
        "resident": "1/3",
        "staff": "1/3",
        "partner": "1/3",
        "service": "1/3",
        "sign-in": "0.01/3",
    }
    async for client in gateway_client(database, upstream_eldercare=upstream_eldercare, rate_limits=limits):
        yield client


async def test_a_caller_over_its_limit_gets_429_with_retry_after_and_others_do_not(strict_gateway):
    statuses = [(await strict_gateway.get("/api/eldercare/v1/elders")).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]  # reached the service (which wants a token)
    limited = await strict_gateway.get("/api/eldercare/v1/elders")
    assert limited.status_code == 429 and limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    # A signed-in caller has a bucket of their own.
    staff = bearer("staff-yinzhou", strict_gateway.settings)
    assert (await strict_gateway.get("/api/eldercare/v1/elders", headers=staff)).status_code == 200
    # The bucket refills at its rate.
    await asyncio.sleep(1.1)
    assert (await strict_gateway.get("/api/eldercare/v1/elders")).status_code == 401


async def test_sign_in_attempts_are_limited_per_address(strict_gateway):
    attempts = [
        await strict_gateway.post(
            "/api/auth/v1/staff-sign-ins", json={"username": "city-demo", "password": f"guess-{i}"}
        )
        for i in range(4)
    ]
    assert [a.status_code for a in attempts] == [401, 401, 401, 429]
    assert "sign-in" in attempts[-1].json()["detail"]
    right = await strict_gateway.post(
        "/api/auth/v1/staff-sign-ins", json={"username": "city-demo", "password": DEMO_PASSWORD}
    )
    assert right.status_code == 429  # the brake holds whatever the password


@pytest.fixture
async def redis_url():
    probe = RedisBuckets(REDIS_URL)
    try:
        await probe._client.ping()
    except Exception as error:  # no Redis on this machine: CI has one on 127.0.0.1:6379
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    finally:
        await probe.close()
    return REDIS_URL


async def test_replicas_share_buckets_through_redis(redis_url):
    replica_a, replica_b = RedisBuckets(redis_url), RedisBuckets(redis_url)
    # One token in 100 s: no token comes back while the test runs, however slow a loaded machine makes it.
    key, limit = f"test:{uuid.uuid4().hex}", Limit(rate=0.01, burst=3)
    try:
        waits = [await replica_a.take(key, limit), await replica_b.take(key, limit), await replica_a.take(key, limit)]
        assert waits == [0.0, 0.0, 0.0]
        over = await replica_b.take(key, limit)
        assert 90 < over <= 100  # the wait for the next token
        # Concurrent takes never hand out more than the bucket holds.
        other = f"test:{uuid.uuid4().hex}"
        results = await asyncio.gather(*(replica_a.take(other, limit) for _ in range(20)))
        assert sum(w == 0.0 for w in results) == 3
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_redis_down_admits_rather_than_failing_every_request():
    unreachable = RedisBuckets("redis://127.0.0.1:1/0")
    try:
        assert await unreachable.take("anyone", Limit(rate=1, burst=1)) == 0.0
    finally:
        await unreachable.close()
