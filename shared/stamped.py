"""Per-process copies of reference data read from tables that only ever grow (rows added, never rewritten).

The request reads the table's *stamp* (say its row count and highest id) in a statement it runs anyway, and the
data is kept under that stamp: a new row gives a new stamp, so an entry is never served for a table other than
the one it was read from, and reading the data itself is skipped while nothing was added. A row edited by hand in
the database without a change to the stamp is not seen until the process restarts or another row is added: keep
the stamp to columns such an edit would move.

An entry outlives the request that read it, so it holds plain values (tuples, frozen dataclasses), never ORM
instances: those belong to the reading request's session, and when that request is rolled back they are expired
and can no longer be read, by it or by any later request served from the cache. `get` refuses to keep one.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState, Session

V = TypeVar("V")


def session_bound(value: object) -> object | None:
    """The first ORM instance or session found in `value`, through tuples, lists, sets, dicts and dataclasses."""
    if isinstance(value, (Session, AsyncSession)) or isinstance(inspect(value, raiseerr=False), InstanceState):
        return value
    parts: Iterable[object]
    if isinstance(value, dict):
        parts = [*value.keys(), *value.values()]
    elif isinstance(value, (tuple, list, set, frozenset)):
        parts = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return None
    return next((found for part in parts if (found := session_bound(part)) is not None), None)


class StampedCache(Generic[V]):
    """Values by (key, stamp), the least recently used dropped beyond `size`."""

    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict[tuple[Hashable, Hashable], V] = OrderedDict()

    async def get(self, key: Hashable, stamp: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value kept for `key` under `stamp`, or `load()`'s, kept from now on."""
        entry = (key, stamp)
        if entry in self._entries:
            self._entries.move_to_end(entry)
            return self._entries[entry]
        value = await load()
        if (bound := session_bound(value)) is not None:
            raise TypeError(
                f"a {type(bound).__name__} belongs to one request's session and must not be kept "
                "across requests: keep plain values (tuples, frozen dataclasses)"
            )
        self._entries[entry] = value
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value
