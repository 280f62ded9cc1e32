"""Parsing many texts in a worker process, so that the event loop keeps answering meanwhile.

The parser is pure Python and holds the GIL while it works. On the event loop, between the database calls, it
keeps every other request waiting; in a thread (asyncio.to_thread) it is worse, as the thread and the loop take
turns at the GIL (`./dev bench event_loop`); in a process of its own the loop stays free. So a batch is parsed
in a small pool of processes made in the lifespan, in two steps around the database lookups, which stay on the
loop (they are I/O), in short transactions of their own:

1. `_read`: parse each text and say what it asks of the database (`service.Query`, a few numbers and
   strings); the readings themselves come back pickled, as bytes the loop only passes on;
2. the loop fetches the candidate addresses of all the texts (`service.fetch_many`), as plain tuples;
3. `_decide_response`: the match of each text among its rows, as the JSON of the response, so that no large
   object is built or unpickled in the service process.

Batch standardisations are not parsed here: the job worker process parses them itself (batches/service.py).

A worker gets the parser's dictionary pickled with each call (pickled once per gazetteer) and keeps the last
one it unpickled, with its road speller, until the gazetteer changes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from services.placenames import gazetteer
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing import service
from services.placenames.parsing.parser import parse
from services.placenames.parsing.schemas import ParsesOut

# One process: the lookups on the loop, one batch at a time, are the slower step, so a second worker only
# makes the machine busier, the event loop's thread waiting longer for a core.
WORKERS = 1
NICENESS = 10  # the worker yields the CPU to the service process (below)


async def start(app) -> None:
    # One batch's database lookups at a time: each costs the event loop CPU, and with several batches' at
    # once, every other request would wait behind one of each.
    app.state.parse_lookups = asyncio.Semaphore(1)
    # spawn, not fork: the service process has threads (the event loop's, the database driver's).
    app.state.parse_pool = ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
    )


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


# In a worker: the dictionary last received and the road speller built from it.
_held: tuple[str, Gazetteer] | None = None


def _gazetteer(key: str, blob: bytes) -> Gazetteer:
    global _held
    if _held is None or _held[0] != key:
        _held = (key, Gazetteer(pickle.loads(blob), {}, {}, 0.0))
    return _held[1]


def _read(key: str, blob: bytes, texts: list[str]) -> tuple[list[service.Query], bytes]:
    gazetteer = _gazetteer(key, blob)
    plans = [service.reading(parse(gazetteer.dictionary, t), gazetteer.road_speller) for t in texts]
    return [p.query for p in plans], pickle.dumps(plans, pickle.HIGHEST_PROTOCOL)


def _decide_response(plans: bytes, rows: list[list[tuple]]) -> bytes:
    results = [service.decide(p, r) for p, r in zip(pickle.loads(plans), rows, strict=True)]
    return ParsesOut(results=results).model_dump_json().encode()


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


async def _matched(app, texts: list[str], decide):
    """Sessions of its own, each a short transaction: none is open (no connection held, and on SQLite no lock
    that /readyz would wait for) while a worker parses or decides."""
    sessionmaker = app.state.database.sessionmaker
    async with sessionmaker() as session:
        gaz = await gazetteer.current(app, session)
    queries, plans = await _in_worker(app, _read, *shipped(gaz), texts)
    async with app.state.parse_lookups, sessionmaker() as session:
        rows = await service.fetch_many(session, queries)
    return await _in_worker(app, decide, plans, rows)


async def parse_and_match(app, texts: list[str]) -> bytes:
    """`ParsesOut` of the texts, as JSON."""
    return await _matched(app, texts, _decide_response)
