"""The parser's dictionary of division and place names, built once per process from the database.

Parsing must not query the database per part, so every name it can recognise is held in memory (about
5,800 spellings for Ningbo: divisions with their short forms, roads, areas, aliases, old names; 2.2 MiB). It is
rebuilt when this process records a name, and at most `MAX_AGE_S` after another process did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession

from services.placenames.divisions.models import Division, DivisionFormerName
from services.placenames.names.models import PlaceName
from services.placenames.parsing.parser import (
    AREA,
    CITY,
    COMMUNITY,
    DISTRICT,
    PROVINCE,
    ROAD,
    TOWNSHIP,
    Dictionary,
    Entry,
)
from shared import clock

MAX_AGE_S = 60.0
MAX_CHAIN = 20
ROAD_KINDS = {"road", "street", "lane", "bridge"}
_SUFFIXES = {"city": ("市",), "district": ("区", "县", "市"), "township": ("街道", "镇", "乡")}


@dataclass(frozen=True, slots=True)
class DivisionRow:
    code: str
    name: str
    level: str
    current: bool
    successor_code: str | None


@dataclass(frozen=True, slots=True)
class NameRow:
    id: int
    name: str
    kind: str
    status: str
    district_code: str
    replaced_by_id: int | None


@dataclass
class Gazetteer:
    dictionary: Dictionary
    division_names: dict[str, str]
    name_texts: dict[int, str]
    built_at: float
    _name_index: object | None = None
    _road_speller: object | None = None
    shipped: tuple[str, bytes] | None = None  # the dictionary pickled for worker processes (parsing/pool.py)

    @property
    def name_index(self):
        """The search-as-you-type index (pinyin included): `load` builds it, off the event loop."""
        if self._name_index is None:
            from services.placenames.search.index import NameIndex

            self._name_index = NameIndex(self.dictionary)
        return self._name_index

    @property
    def road_speller(self):
        """Nearest recorded road names for a misspelt one: `load` builds it, off the event loop."""
        if self._road_speller is None:
            from services.placenames.parsing.spelling import RoadSpeller

            self._road_speller = RoadSpeller(self.dictionary)
        return self._road_speller


def _short(name: str, level: str) -> str | None:
    for suffix in _SUFFIXES.get(level, ()):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def _community_forms(name: str) -> list[str]:
    """The committee's name and the place's: 长丰社区居委会 → 长丰社区; 大河村委会 → 大河村; 东光村村委会 → 东光村
    (the village's name already ends in 村, and the committee is 村委会)."""
    forms = [name]
    for suffix, short in (("社区居委会", "社区"), ("居委会", "社区"), ("村民委员会", "村"), ("村委会", "村")):
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            forms.append(base if base.endswith(short) else base + short)
            break
    return forms


def build(
    divisions: Iterable[DivisionRow], names: Iterable[NameRow], former_names: Iterable[tuple[str, str]] = ()
) -> Gazetteer:
    """`former_names`: (code, name) of names a division had before (中马街道 for 330205001, now 外滩街道)."""
    divisions = {d.code: d for d in divisions}
    names = {n.id: n for n in names}

    def current_division(code: str) -> DivisionRow:
        d, seen = divisions[code], set()
        while not d.current and d.successor_code in divisions and d.code not in seen and len(seen) < MAX_CHAIN:
            seen.add(d.code)
            d = divisions[d.successor_code]
        return d

    def standard_name(n: NameRow) -> NameRow:
        seen = {n.id}
        while n.replaced_by_id is not None and n.replaced_by_id in names and len(seen) < MAX_CHAIN:
            n = names[n.replaced_by_id]
            if n.id in seen:
                break
            seen.add(n.id)
        return n

    entries: list[Entry] = [Entry(PROVINCE, s, "330000", "330000", "浙江省", None) for s in ("浙江省", "浙江")]
    # A short form that is also a place name (白沙路 for 白沙路街道, and the road 白沙路) is left out: the
    # road is what people mean when they write it before a number.
    short_current: set[str] = {n.name for n in names.values()}
    for d in sorted(divisions.values(), key=lambda d: not d.current):  # current first: they keep short forms
        now = current_division(d.code)
        status = "standard" if d.current else "historical"
        kind = {"city": CITY, "district": DISTRICT, "township": TOWNSHIP, "village": COMMUNITY}[d.level]
        forms = _community_forms(d.name) if d.level == "village" else [d.name]
        short = _short(d.name, d.level)
        if short and short not in short_current:
            forms.append(short)
            short_current.add(short)
        district = now.code[:6] if d.level != "city" else None
        entries += [Entry(kind, f, d.code, now.code, now.name, district, status, short_form=f == short) for f in forms]
    for code, name in former_names:
        if code not in divisions:
            continue
        d, now = divisions[code], current_division(code)
        kind = {"city": CITY, "district": DISTRICT, "township": TOWNSHIP, "village": COMMUNITY}[d.level]
        forms = [name]
        short = _short(name, d.level)
        if short and short not in short_current:
            forms.append(short)
            short_current.add(short)
        entries += [
            Entry(kind, f, code, now.code, now.name, now.code[:6], "historical", short_form=f == short) for f in forms
        ]
    for n in names.values():
        if n.status == "historical" and n.replaced_by_id is None:
            continue  # retired with no successor: nothing to resolve to
        today = standard_name(n)
        if today.status != "standard":
            continue
        kind = ROAD if n.kind in ROAD_KINDS else AREA
        entries.append(Entry(kind, n.name, str(n.id), str(today.id), today.name, today.district_code, n.status))
    return Gazetteer(
        Dictionary(entries),
        {d.code: d.name for d in divisions.values()},
        {n.id: n.name for n in names.values()},
        time.monotonic(),
    )


async def load(session: AsyncSession) -> Gazetteer:
    today = clock.today()
    divisions = [
        DivisionRow(
            d.code,
            d.name,
            d.level,
            (d.valid_from is None or d.valid_from <= today) and (d.valid_to is None or d.valid_to > today),
            d.successor_code,
        )
        for d in await session.scalars(select(Division))
    ]
    names = [
        NameRow(n.id, n.name, n.kind, n.status, n.district_code, n.replaced_by_id)
        for n in await session.scalars(select(PlaceName))
    ]
    former = [(f.code, f.name) for f in await session.scalars(select(DivisionFormerName))]
    # The dictionary and the indexes a request builds from it are pure Python: about a second the first time in
    # a process (pypinyin loads its dictionaries), a fifth of one after every change of the registers. On the
    # event loop every request in flight, /readyz included, would wait that long; in a thread it waits for none.
    return await asyncio.to_thread(_build_with_indexes, divisions, names, former)


def _build_with_indexes(divisions, names, former) -> Gazetteer:
    gazetteer = build(divisions, names, former)
    gazetteer.name_index, gazetteer.road_speller  # noqa: B018 (properties that build them)
    return gazetteer


_lock = asyncio.Lock()
# Dictionaries already built in this process, by the fingerprint of the registers they were built from, so
# a second app in the process (or a rebuild that finds nothing changed) does not build again.
_built: dict[tuple, Gazetteer] = {}


async def _fingerprint(session: AsyncSession) -> tuple:
    """Changes whenever a name, an event or a division is added or changes status (every change of status
    comes with an event)."""
    from services.placenames.names.models import NameEvent

    names = (
        await session.execute(
            select(func.count(), func.max(PlaceName.id), func.max(PlaceName.created_at)).select_from(PlaceName)
        )
    ).one()
    events = (
        await session.execute(
            select(func.count(), func.max(NameEvent.id), func.max(NameEvent.created_at)).select_from(NameEvent)
        )
    ).one()
    divisions = await session.scalar(select(func.count()).select_from(Division))
    former = await session.scalar(select(func.count()).select_from(DivisionFormerName))
    return (*names, *events, divisions, former, clock.today())


async def current(app, session: AsyncSession) -> Gazetteer:
    """This process's dictionary, checked against the registers after `invalidate` or `MAX_AGE_S`."""
    gazetteer = getattr(app.state, "gazetteer", None)
    if gazetteer is None or time.monotonic() - gazetteer.built_at > MAX_AGE_S:
        gazetteer = app.state.gazetteer = await latest(session)
    return gazetteer


async def latest(session: AsyncSession) -> Gazetteer:
    """The dictionary of the registers as they are now: built again only when they changed."""
    async with _lock:
        fingerprint = await _fingerprint(session)
        gazetteer = _built.get(fingerprint)
        if gazetteer is None:
            gazetteer = await load(session)
            if len(_built) >= 4:
                _built.pop(next(iter(_built)))
            _built[fingerprint] = gazetteer
        gazetteer.built_at = time.monotonic()
    return gazetteer


_STALE = "placenames_gazetteer_stale"


def invalidate(app, session: AsyncSession) -> None:
    """Forget this process's dictionary now, and again when `session` commits the change: a request that rebuilt
    it in between read the registers as they were before, and would be kept for MAX_AGE_S."""
    app.state.gazetteer = None
    session.sync_session.info.setdefault(_STALE, []).append(app)


@event.listens_for(SyncSession, "after_commit")
def _forget_after_commit(session: SyncSession) -> None:
    for app in session.info.pop(_STALE, ()):
        app.state.gazetteer = None
