"""A batch of addresses is parsed outside the service's event loop: while the biggest allowed batch is in
flight, the same process keeps answering /healthz and /readyz (on SQLite too, where a transaction left open
would make /readyz wait for its lock). A real uvicorn server on loopback, as in production."""

import asyncio
import csv
import multiprocessing
import os
import signal
from pathlib import Path

import httpx

from services.placenames.main import create_app
from services.placenames.parsing.schemas import MAX_BATCH, MAX_BATCH_CHARS
from shared.identity import mint_assertion
from tests.conftest import service_database, settings_for
from tests.placenames.helpers import API, YINZHOU_STAFF
from tests.shared.loopback import free_port, serve_in_background

LABELLED = Path(__file__).parent / "data" / "parse_set.csv"


def biggest_batch() -> list[str]:
    """MAX_BATCH labelled addresses, each padded with more address text up to its share of MAX_BATCH_CHARS."""
    with LABELLED.open(encoding="utf-8") as f:
        lines = [r["text"] for r in csv.DictReader(f)]
    length = MAX_BATCH_CHARS // MAX_BATCH
    return [(lines[i % len(lines)] + " " + lines[(i * 7 + 3) % len(lines)] * 5)[:length] for i in range(MAX_BATCH)]


async def test_health_and_readiness_answer_while_the_biggest_batch_is_parsed(backend, db_dir):
    database = await service_database("placenames", backend, db_dir)
    settings = settings_for("placenames", database.url)
    app = create_app(settings)
    port = free_port()
    server, serving = await serve_in_background(app, port)
    headers = {
        "X-Identity-Assertion": mint_assertion(YINZHOU_STAFF, audience="placenames", secret=settings.identity_secret)
    }
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            before = set(multiprocessing.active_children())
            first = await http.post(f"{API}/parses", json={"texts": ["宁波市鄞州区天童南路588号"]}, headers=headers)
            assert first.status_code == 200, first.text
            workers = set(multiprocessing.active_children()) - before
            assert workers, "the batch was parsed in the service's own process, on its event loop"
            # The workers are stopped: the batch stays in flight for as long as the test needs, with no clock.
            for worker in workers:
                os.kill(worker.pid, signal.SIGSTOP)
            try:
                batch = asyncio.ensure_future(
                    http.post(f"{API}/parses", json={"texts": biggest_batch()}, headers=headers)
                )
                answered = []
                for _ in range(10):
                    for path in ("/healthz", "/readyz"):
                        answered.append((path, (await http.get(path)).status_code))
                assert not batch.done()
                assert answered == [("/healthz", 200), ("/readyz", 200)] * 10
            finally:
                for worker in workers:
                    os.kill(worker.pid, signal.SIGCONT)
            response = await batch
            assert response.status_code == 200, response.text
            results = response.json()["results"]
            assert len(results) == MAX_BATCH and results[0]["text"] == biggest_batch()[0]
            assert {"district", "road", "house_number"} <= {p["kind"] for p in results[0]["parts"]}
    finally:
        server.should_exit = True
        await serving
