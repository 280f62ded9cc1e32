"""Per-process copies of reference data read from tables that only ever grow (rows added, never rewritten).

The request reads the table's *stamp* (say its row count and highest id) in a statement it runs anyway, and the
data is kept under that stamp: a new row gives a new stamp, so an entry is never served for a table other than
the one it was read from, and reading the data itself is skipped while nothing was added. A row edited by hand in
the database without a change to the stamp is not seen until the process restarts or another row is added: keep
the stamp to columns such an edit would move.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class StampedCache(Generic[V]):
    """Values by (key, stamp), the least recently used dropped beyond `size`."""

    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict[tuple, V] = OrderedDict()

    async def get(self, key: Hashable, stamp: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value kept for `key` under `stamp`, or `load()`'s, kept from now on."""
        entry = (key, stamp)
        if entry in self._entries:
            self._entries.move_to_end(entry)
            return self._entries[entry]
        value = await load()
        self._entries[entry] = value
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value
