"""Parsing many texts in a worker process, so that the event loop keeps answering meanwhile.

The parser is pure Python and holds the GIL while it works. On the event loop, between the database calls, it
keeps every other request waiting; in a thread (asyncio.to_thread) it is worse, as the thread and the loop take
turns at the GIL (`./dev bench event_loop`); in a process of its own the loop stays free. So a batch is parsed
in a small pool of processes made in the lifespan, in two steps around the database lookups, which stay on the
loop (they are I/O), in short transactions of their own:

1. `_read`: parse each text and say what it asks of the database (`service.Query`, a few numbers and
   strings); the readings themselves (`service.Plan`) stay in the worker, by batch;
2. the loop fetches the candidate addresses of all the texts (`service.fetch_many`), as plain tuples;
3. `_decide_response`: the match of each text among its rows, as the JSON of the response, so that no large
   object is built or unpickled in the service process. A worker that does not hold the batch's plans (there
   is one worker, but it may have been replaced) reads the texts again.

Only small things cross between the processes: the texts, the queries, the rows and the response's bytes.
The parser's dictionary (pickled once per gazetteer, half a megabyte) is sent only to a worker that does not
hold it yet; a worker keeps the last one it unpickled, with its road speller, until the gazetteer changes.
What each step costs: docs/benchmarks/placenames.md.

Batch standardisations are not parsed here: the job worker process parses them itself (batches/service.py).

Starting the worker (spawned, then at a low priority importing the parser), shipping it the dictionary and building
its road speller took more than the gateway's 10 s on a loaded 2-core node, so the first batch after a start got a
504. `warm_up` does all that at start, in the background, with one address parsed end to end; /readyz says
`starting` until it is done (shared/health.py), so a rolling update sends the new process no traffic before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import pickle
import uuid
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from services.placenames import gazetteer
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing import service
from services.placenames.parsing.parser import parse

# One process: the lookups on the loop, one batch at a time, are the slower step, so a second worker only
# makes the machine busier, the event loop's thread waiting longer for a core.
WORKERS = 1
NICENESS = 10  # the worker yields the CPU to the service process (below)
WARM_UP_TEXT = "宁波市鄞州区天童南路588号"
WARMING = "parse-worker"  # its name in /readyz's `warming` while it runs
log = logging.getLogger("placenames.parsing")


async def start(app) -> None:
    # One batch's database lookups at a time: each costs the event loop CPU, and with several batches' at
    # once, every other request would wait behind one of each.
    app.state.parse_lookups = asyncio.Semaphore(1)
    # spawn, not fork: the service process has threads (the event loop's, the database driver's).
    app.state.parse_pool = ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
    )


async def warm_up(app) -> None:
    """With `parse_warm_up` on: one address parsed in the background, through the worker, before /readyz says
    ready. The lifespan does not wait for it (the process answers /healthz meanwhile), and readiness waits at most
    `parse_warm_up_timeout_s`: on a failure (the database not there yet, say) it is logged and the first batch
    starts the worker, as without the warm-up."""
    settings = app.state.settings
    if not settings.parse_warm_up:
        return
    warming = app.state.warming = getattr(app.state, "warming", set())
    warming.add(WARMING)

    async def run() -> None:
        try:
            await asyncio.wait_for(parse_and_match(app, [WARM_UP_TEXT]), settings.parse_warm_up_timeout_s)
        except Exception as exc:  # whatever failed, the service serves; the first batch tries again
            log.warning("parse worker warm-up failed: %s: %s", type(exc).__name__, exc)
        else:
            log.info("parse worker warmed up")
        finally:
            warming.discard(WARMING)

    app.state.parse_warm_up = asyncio.get_running_loop().create_task(run())


async def stop_warm_up(app) -> None:
    task = getattr(app.state, "parse_warm_up", None)
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _lower_priority() -> None:
    """Workers yield the CPU to the service process: when both want a core, the event loop gets it."""
    os.nice(NICENESS)


async def stop(app) -> None:
    pool = getattr(app.state, "parse_pool", None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def shipped(gazetteer: Gazetteer) -> tuple[str, bytes]:
    """The gazetteer's dictionary as the workers get it: a key and its pickle, made once per gazetteer."""
    if gazetteer.shipped is None:
        gazetteer.shipped = (uuid.uuid4().hex, pickle.dumps(gazetteer.dictionary, pickle.HIGHEST_PROTOCOL))
    return gazetteer.shipped


# In a worker: the dictionary last received and the road speller built from it; the plans of the batches read
# and not yet decided, by batch, the oldest dropped beyond MAX_HELD_PLANS (a batch whose request went away).
_held: tuple[str, Gazetteer] | None = None
_plans: OrderedDict[str, list[service.Plan]] = OrderedDict()
MAX_HELD_PLANS = 64


class _NeedDictionary:
    """A worker's answer when it does not hold the dictionary it was asked to use: send it again, with it."""


def _gazetteer(key: str, blob: bytes | None) -> Gazetteer | None:
    global _held
    if _held is None or _held[0] != key:
        if blob is None:
            return None
        _held = (key, Gazetteer(pickle.loads(blob), {}, {}, 0.0))
    return _held[1]


def _read(key: str, blob: bytes | None, batch: str, texts: list[str]) -> list[service.Query] | _NeedDictionary:
    """Parse the texts: what each asks of the database. The plans stay here, for `_decide_response`."""
    gazetteer = _gazetteer(key, blob)
    if gazetteer is None:
        return _NeedDictionary()
    plans = [service.reading(parse(gazetteer.dictionary, t), gazetteer.road_speller) for t in texts]
    _plans[batch] = plans
    while len(_plans) > MAX_HELD_PLANS:
        _plans.popitem(last=False)
    return [p.query for p in plans]


def _decide_response(
    key: str, blob: bytes | None, batch: str, texts: list[str], rows: list[list[tuple]]
) -> bytes | _NeedDictionary:
    """`ParsesOut` as JSON, from the plain dicts `decide` makes (tests/placenames check it against the model).
    The texts are read again when this worker does not hold their plans (another worker read them, or they were
    dropped)."""
    plans = _plans.pop(batch, None)
    if plans is None:
        gazetteer = _gazetteer(key, blob)
        if gazetteer is None:
            return _NeedDictionary()
        plans = [service.reading(parse(gazetteer.dictionary, t), gazetteer.road_speller) for t in texts]
    results = [service.decide(p, r) for p, r in zip(plans, rows, strict=True)]
    return json.dumps({"results": results}, ensure_ascii=False, separators=(",", ":")).encode()


async def _in_worker(app, function, *args):
    pool = app.state.parse_pool
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
    except BrokenProcessPool:
        # A worker died (killed for memory, say): the pool refuses all work from then on. The first request to
        # see it replaces the pool; the work (reading, no writes) is tried once more.
        if app.state.parse_pool is pool:
            await stop(app)
            await start(app)
        return await asyncio.get_running_loop().run_in_executor(app.state.parse_pool, function, *args)


async def _with_dictionary(app, gaz: Gazetteer, function, *args):
    """`function(key, dictionary, *args)` in a worker; the dictionary's pickle (half a megabyte) is sent only
    to a worker that does not hold it yet."""
    key, blob = shipped(gaz)
    answer = await _in_worker(app, function, key, None, *args)
    if isinstance(answer, _NeedDictionary):
        answer = await _in_worker(app, function, key, blob, *args)
    return answer


async def parse_and_match(app, texts: list[str]) -> bytes:
    """`ParsesOut` of the texts, as JSON.

    Sessions of its own, each a short transaction: none is open (no connection held, and on SQLite no lock
    that /readyz would wait for) while a worker parses or decides."""
    sessionmaker = app.state.database.sessionmaker
    async with sessionmaker() as session:
        gaz = await gazetteer.current(app, session)
    batch = uuid.uuid4().hex
    queries = await _with_dictionary(app, gaz, _read, batch, texts)
    async with app.state.parse_lookups, sessionmaker() as session:
        rows = await service.fetch_many(session, queries)
    return await _with_dictionary(app, gaz, _decide_response, batch, texts, rows)
