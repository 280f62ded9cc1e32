"""Reference data kept per process under its table's stamp: read once per stamp, read again when the stamp moves."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.meals.models import MealSubsidyRate
from shared.stamped import StampedCache


async def test_a_value_is_read_once_per_stamp_and_again_when_the_table_grew():
    cache: StampedCache[list[str]] = StampedCache(size=8)
    reads = []

    def loader(rows):
        async def load():
            reads.append(list(rows))
            return list(rows)

        return load

    table = ["rate 1"]
    assert await cache.get("330212", (1,), loader(table)) == ["rate 1"]
    assert await cache.get("330212", (1,), loader(["never read"])) == ["rate 1"]  # same stamp: kept
    table.append("rate 2")
    assert await cache.get("330212", (2,), loader(table)) == ["rate 1", "rate 2"]  # a row added: read again
    assert await cache.get("330203", (2,), loader(["other district"])) == ["other district"]  # keys apart
    assert reads == [["rate 1"], ["rate 1", "rate 2"], ["other district"]]


async def test_the_least_recently_used_entries_go_beyond_the_size():
    cache: StampedCache[str] = StampedCache(size=2)

    async def value(name):
        return name

    await cache.get("a", 1, lambda: value("a"))
    await cache.get("b", 1, lambda: value("b"))
    await cache.get("a", 1, lambda: value("never"))  # a is used again: b is now the oldest
    await cache.get("c", 1, lambda: value("c"))
    assert await cache.get("a", 1, lambda: value("a again")) == "a"
    assert await cache.get("b", 1, lambda: value("b again")) == "b again"


@dataclass(frozen=True)
class Priced:
    tier: str
    rate: object


async def test_orm_instances_and_sessions_are_refused_however_they_are_wrapped():
    """An ORM row is expired with its request's session when that request is rolled back; kept, it would break
    every later request served from the cache. Refused at once, and nothing is kept."""
    cache: StampedCache[object] = StampedCache(size=8)
    rate = MealSubsidyRate(id=1, tier="tekun", district_code="330200", amount_fen=800)

    async def value(v):
        return v

    wrapped = [
        rate,
        (rate,),
        {"tekun": rate},
        {"tekun": (1, rate)},
        Priced("tekun", rate),
        [Priced("x", rate)],
        frozenset({("tekun", AsyncSession())}),
    ]
    for v in wrapped:
        with pytest.raises(TypeError, match=r"MealSubsidyRate|AsyncSession"):
            await cache.get("330212", (1,), lambda v=v: value(v))
    plain = (Priced("tekun", 800), ("dibao", 600))
    assert await cache.get("330212", (1,), lambda: value(plain)) is plain  # nothing refused was kept
