"""placenames warms its parse worker up at start (`parse_warm_up`, on in production, off in the other tests' apps):
the first POST /parses after a start used to start the worker process, ship it the dictionary and build its road
speller, which on a busy node outlasted the gateway's 10 s deadline (a 504). Now /readyz says `starting` until one
address has been parsed through the worker, and the first batch is answered by that worker, already holding the
dictionary."""

import asyncio
import multiprocessing

import httpx

from services.placenames.main import create_app
from services.placenames.parsing import pool
from services.placenames.settings import PlacenamesSettings
from shared.identity import mint_assertion
from tests.conftest import service_database, settings_for
from tests.placenames.helpers import API, YINZHOU_STAFF

READY_WITHIN_S = 180


async def _ready(http: httpx.AsyncClient) -> dict:
    deadline = asyncio.get_running_loop().time() + READY_WITHIN_S
    while True:
        answer = await http.get("/readyz")
        if answer.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            assert answer.status_code == 200, answer.text
            return answer.json()
        assert answer.json()["status"] == "starting", answer.text
        await asyncio.sleep(0.1)


def _warm_app(backend_url: str, **changes):
    settings = settings_for("placenames", backend_url).model_copy(update={"parse_warm_up": True, **changes})
    return create_app(settings), settings


async def test_readiness_waits_for_the_warm_up_and_the_first_batch_finds_the_worker_ready(backend, db_dir, monkeypatch):
    database = await service_database("placenames", backend, db_dir)
    app, settings = _warm_app(database.url)
    calls: list[str] = []
    in_worker = pool._in_worker

    async def counted(app, function, *args):
        calls.append(function.__name__)
        return await in_worker(app, function, *args)

    monkeypatch.setattr(pool, "_in_worker", counted)
    headers = {
        "X-Identity-Assertion": mint_assertion(YINZHOU_STAFF, audience="placenames", secret=settings.identity_secret)
    }
    before = set(multiprocessing.active_children())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://placenames", timeout=60) as http,
    ):
        starting = await http.get("/readyz")
        assert starting.status_code == 503, starting.text
        assert starting.json()["status"] == "starting" and starting.json()["warming"] == [pool.WARMING]
        assert (await http.get("/healthz")).status_code == 200  # alive meanwhile: no restart

        assert (await _ready(http))["status"] == "ready"
        workers = set(multiprocessing.active_children()) - before
        assert workers, "ready before the parse worker was started"
        # The warm-up shipped the dictionary: the worker asked for it once.
        assert calls == ["_read", "_read", "_decide_response"]
        calls.clear()

        first = await http.post(f"{API}/parses", json={"texts": ["宁波市鄞州区天童南路588号"]}, headers=headers)
        assert first.status_code == 200, first.text
        assert {"district", "road", "house_number"} <= {p["kind"] for p in first.json()["results"][0]["parts"]}
        # The same worker, already holding the dictionary: no process started, nothing shipped again.
        assert calls == ["_read", "_decide_response"]
        assert set(multiprocessing.active_children()) - before == workers


async def test_a_failed_warm_up_does_not_keep_the_service_unready(backend, db_dir, monkeypatch):
    database = await service_database("placenames", backend, db_dir)
    app, _ = _warm_app(database.url)
    gate = asyncio.Event()

    async def failing(app, texts):
        await gate.wait()
        raise OSError("no processes left")

    monkeypatch.setattr(pool, "parse_and_match", failing)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://placenames") as http,
    ):
        assert (await http.get("/readyz")).json()["status"] == "starting"
        gate.set()
        assert (await _ready(http))["status"] == "ready"


async def test_a_warm_up_that_outlasts_its_timeout_stops_holding_readiness(backend, db_dir, monkeypatch):
    database = await service_database("placenames", backend, db_dir)
    app, _ = _warm_app(database.url, parse_warm_up_timeout_s=0.2)

    async def hanging(app, texts):
        await asyncio.Event().wait()

    monkeypatch.setattr(pool, "parse_and_match", hanging)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://placenames") as http,
    ):
        assert (await http.get("/readyz")).json()["status"] == "starting"
        assert (await _ready(http))["status"] == "ready"


async def test_off_in_the_tests_apps(backend, db_dir):
    database = await service_database("placenames", backend, db_dir)
    settings = settings_for("placenames", database.url)
    assert settings.parse_warm_up is False
    assert PlacenamesSettings.model_fields["parse_warm_up"].default is True  # the real service warms up
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://placenames") as http,
    ):
        assert (await http.get("/readyz")).status_code == 200
