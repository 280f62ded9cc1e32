"""Parsing then matching: the parser reads the parts in memory; one query fetches the standard addresses
on the roads or in the areas it found, and the best is chosen by which parts agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Integer, String, and_, column, func, or_, select, values
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.addresses.models import Address
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing.parser import AREA, DISTRICT, ROAD, TOWNSHIP, Parsed, parse
from services.placenames.parsing.schemas import (
    AddressMatch,
    ParseOut,
    PartOut,
    RoadSuggestion,
    Span,
)
from services.placenames.text import WIDTH

NUMBER_FIELDS = ("house_number", "building", "unit", "room")
MAX_CANDIDATES = 5
_LEVEL_NAMES = {"house_number": "house number", "building": "building", "unit": "unit", "room": "room"}


def _parts_out(parsed: Parsed) -> list[PartOut]:
    out = []
    for p in sorted(parsed.parts.values(), key=lambda p: p.start):
        chosen = p.chosen or (p.entries[0] if p.entries else None)
        out.append(
            PartOut(
                kind=p.kind,
                text=p.text,
                start=p.start,
                end=p.end,
                value=chosen.standard_name if chosen else p.value,
                ref=chosen.standard_ref if chosen else None,
                written_status=chosen.status if chosen else "unknown" if p.kind == ROAD else None,
            )
        )
    return out


def _name_reasons(parsed: Parsed) -> tuple[float, list[str]]:
    """What lowers trust in the reading itself: old or alias names, a missing or contradicted district,
    text not understood."""
    confidence, reasons = 1.0, []
    for p in parsed.parts.values():
        chosen = p.chosen or (p.entries[0] if p.entries else None)
        if chosen is not None and chosen.status != "standard":
            reasons.append(
                f"{p.text} is {'an old' if chosen.status == 'historical' else 'an alias'} name; "
                f"today: {chosen.standard_name}"
            )
            confidence *= 0.98
    if DISTRICT not in parsed.parts:
        confidence *= 0.97
        reasons.append("no district given" + (f"; implied: {parsed.district_code}" if parsed.district_code else ""))
    if parsed.moved_district is not None:
        written, today = parsed.moved_district
        confidence *= 0.95
        reasons.append(
            f"{parsed.parts[TOWNSHIP].text} lies in district {today} today; {written} as written is not where it is"
        )
    road = parsed.parts.get(ROAD)
    if road is not None and not road.entries:
        confidence *= 0.9
        reasons.append(f"{road.text} is unknown to the registry: read as a road by its form, kept as written")
    if road is not None and parsed.district_code and road.chosen and road.chosen.district != parsed.district_code:
        confidence *= 0.7
        reasons.append(f"{road.text} is not recorded in district {parsed.district_code}")
    if parsed.unparsed:
        confidence *= 0.9
        reasons.append("not understood: " + "、".join(parsed.text[a:b] for a, b in parsed.unparsed[:3]))
    return confidence, reasons


def name_refs(part, district_code: str | None) -> list[int]:
    """The standard place-name ids a road or area spelling may mean, in the district when one is known."""
    if part is None or not part.entries:
        return []
    entries = [e for e in part.entries if district_code is None or e.district == district_code] or list(part.entries)
    return sorted({int(e.standard_ref) for e in entries})


def _score(parsed: Parsed, address: Candidate) -> tuple[int, list[str]] | None:
    """How many number parts agree; None when one contradicts (a different building, say) or the address is
    more specific than the text (it names a room the text does not)."""
    agreed, missing = 0, []
    for field in NUMBER_FIELDS:
        part = parsed.parts.get(field)
        stored = getattr(address, field)
        if part is None:
            if stored is not None:
                return None
        elif stored is None:
            missing.append(f"{_LEVEL_NAMES[field]} {part.value}")
        elif stored != part.value:
            return None
        else:
            agreed += 1
    return agreed, missing


def road_suggestions(parsed: Parsed, speller) -> list[RoadSuggestion]:
    """Recorded roads near the one written, when the parser found text that seems to name an unknown road.

    The text just before it may have been read as a name of its own (百丈 in 百丈东陆 is a street's short
    name), so that name and the unknown text together are tried as well."""
    if parsed.unknown_road is None or speller is None:
        return []
    a, b = parsed.unknown_road
    text = parsed.text.translate(WIDTH)
    tries = [a]
    before = [p for p in parsed.parts.values() if p.end == a and p.kind not in NUMBER_FIELDS]
    if before:
        tries.append(before[0].start)
    best: dict[str, tuple] = {}
    for start in tries:
        for g in speller.guesses(text[start:b], district=parsed.district_code):
            at = b - len(g.written)
            if g.entry.standard_ref not in best or best[g.entry.standard_ref][0].score < g.score:
                best[g.entry.standard_ref] = (g, at)
    ranked = sorted(best.values(), key=lambda t: (-t[0].score, t[0].entry.standard_name))[:MAX_CANDIDATES]
    return [
        RoadSuggestion(
            written=parsed.text[at:b],
            start=at,
            end=b,
            resembles=g.spelling,
            standard_name=g.entry.standard_name,
            ref=g.entry.standard_ref,
            district_code=g.entry.district,
            reason=g.reason,
            score=g.score,
        )
        for g, at in ranked
    ]


class Query(NamedTuple):
    """What a text asks of the database: the roads and areas it may name, and its number parts (in the order
    of NUMBER_FIELDS, None where not written)."""

    road_ids: tuple[int, ...]
    area_ids: tuple[int, ...]
    numbers: tuple[str | None, ...]


class Candidate(NamedTuple):
    """A standard address as `decide` reads it: a plain row, cheap to load and to pass between processes."""

    id: int
    code: str
    full_name: str
    level: str
    district_code: str
    area_id: int | None
    house_number: str | None
    building: str | None
    unit: str | None
    room: str | None


_COLUMNS = [getattr(Address, f) for f in Candidate._fields]


@dataclass(slots=True)
class Plan:
    """What the parse of one text found: the part of a match that needs no database (`reading`), finished by
    `decide` with the rows `fetch` found for its `query`. Split so that batches do the former two in worker
    processes (parsing/pool.py)."""

    parsed: Parsed
    confidence: float
    reasons: list[str]
    out: dict
    query: Query


def reading(parsed: Parsed, speller=None) -> Plan:
    """`speller` (the gazetteer's road speller): when given, a road written that is not recorded gets the
    nearest recorded ones proposed in `road_suggestions`, and named in the reasons, never applied."""
    confidence, reasons = _name_reasons(parsed)
    suggestions = road_suggestions(parsed, speller)
    if suggestions:
        reasons.append(
            f"{suggestions[0].written} is not a recorded road; not replaced. Nearest: "
            + "; ".join(f"{s.standard_name} ({s.reason})" for s in suggestions[:3])
        )
    out = dict(
        text=parsed.text,
        parts=_parts_out(parsed),
        unparsed=[Span(text=parsed.text[a:b], start=a, end=b) for a, b in parsed.unparsed],
        district_code=parsed.district_code,
        road_suggestions=suggestions,
    )
    numbers = tuple(parsed.parts[f].value if f in parsed.parts else None for f in NUMBER_FIELDS)
    if "lane" in parsed.parts:  # the registry numbers a house in a lane as 500弄3
        house = parsed.parts["house_number"].value if "house_number" in parsed.parts else None
        numbers = (
            f"{parsed.parts['lane'].value}弄{house}" if house else f"{parsed.parts['lane'].value}弄",
            *numbers[1:],
        )
    return Plan(
        parsed,
        confidence,
        reasons,
        out,
        Query(
            tuple(name_refs(parsed.parts.get(ROAD), parsed.district_code)),
            tuple(name_refs(parsed.parts.get(AREA), parsed.district_code)),
            numbers,
        ),
    )


MAX_ROWS = 500  # candidate addresses per text at most
LOOKUP_BLOCK = 50  # texts per statement: a larger block holds the event loop longer at one go


def _lookup(by: str, rows: list[tuple]):
    """The current addresses on the roads (`by` "road") or in the areas ("area") of some texts, the first
    MAX_ROWS of each text by id: one statement for many texts, over a table of (text, road or area, its number
    parts). What _score would refuse is left in the database: a part not written must be empty in the address
    (a road's 3,700 rooms are not fetched for 天童南路 alone), a part written must agree or be empty; on a road,
    a house number written must be the address's."""
    wanted = (
        values(
            column("idx", Integer), column("ref", Integer), *(column(f, String) for f in NUMBER_FIELDS), name="wanted"
        )
        .data(rows)
        .cte("wanted")
    )
    house = wanted.c.house_number
    agree = [or_(getattr(Address, f).is_(None), getattr(Address, f) == wanted.c[f]) for f in NUMBER_FIELDS[1:]]
    if by == "road":
        on = [
            Address.road_id == wanted.c.ref,
            or_(Address.house_number == house, and_(house.is_(None), Address.house_number.is_(None))),
        ]
    else:
        on = [Address.area_id == wanted.c.ref, or_(Address.house_number.is_(None), Address.house_number == house)]
    ranked = (
        select(
            wanted.c.idx, *_COLUMNS, func.row_number().over(partition_by=wanted.c.idx, order_by=Address.id).label("n")
        )
        .join_from(wanted, Address, and_(*on))
        .where(Address.status == "current", *agree)
        .subquery()
    )
    return select(*(c for c in ranked.c if c.name != "n")).where(ranked.c.n <= MAX_ROWS)


async def fetch_many(session: AsyncSession, queries: list[Query]) -> list[list[tuple]]:
    """For each query, the current standard addresses its parts may mean (the first MAX_ROWS by id), as plain
    tuples (see `Candidate`). Two statements for up to LOOKUP_BLOCK texts, not one per text: each statement
    has a cost to the event loop of its own, whatever it fetches."""
    found: list[dict[int, tuple]] = [{} for _ in queries]
    for start in range(0, len(queries), LOOKUP_BLOCK):
        block = list(enumerate(queries[start : start + LOOKUP_BLOCK], start))
        for by in ("road", "area"):
            rows = [(i, ref, *q.numbers) for i, q in block for ref in (q.road_ids if by == "road" else q.area_ids)]
            if rows:
                for idx, *address in await session.execute(_lookup(by, rows)):
                    found[idx][address[0]] = tuple(address)
    # A text with both a road and an area: the first MAX_ROWS of the two together.
    return [[rows[k] for k in sorted(rows)[:MAX_ROWS]] for rows in found]


async def fetch(session: AsyncSession, query: Query) -> list[tuple]:
    return (await fetch_many(session, [query]))[0]


def decide(plan: Plan, rows: list[tuple]) -> ParseOut:
    """The match, or the ranked candidates, among the rows `fetch` found for the plan's query."""
    parsed, confidence, reasons, out = plan.parsed, plan.confidence, list(plan.reasons), plan.out
    road_ids, area_ids = plan.query.road_ids, plan.query.area_ids
    rows = [Candidate(*row) for row in rows]
    if not road_ids and not area_ids:
        reasons.append("no road or residential area recognised: nothing to match")
        return ParseOut(**out, match=None, candidates=[], confidence=round(confidence * 0.5, 3), reasons=reasons)
    scored = []
    for a in rows:
        s = _score(parsed, a)
        if s is not None:
            if area_ids and road_ids and a.area_id is not None and a.area_id not in area_ids:
                continue
            scored.append((s[0], a, s[1]))
    if not scored:
        reasons.append("no standard address matches these parts")
        return ParseOut(**out, match=None, candidates=[], confidence=round(confidence * 0.5, 3), reasons=reasons)
    best = max(s[0] for s in scored)
    scored.sort(key=lambda s: (-s[0], s[1].district_code != parsed.district_code, s[1].id))

    def as_match(agreed: int, a, missing: list[str], share: float) -> AddressMatch:
        c, why = confidence * share, list(reasons)
        if missing:
            c *= 0.85 ** len(missing)
            why.append(f"matched at {a.level} level; no standard address for " + ", ".join(missing))
        return AddressMatch(code=a.code, full_name=a.full_name, level=a.level, confidence=round(c, 3), reasons=why)

    top = [s for s in scored if s[0] == best]
    if len(top) == 1:
        m = as_match(*top[0], 1.0)
        return ParseOut(**out, match=m, candidates=[], confidence=m.confidence, reasons=m.reasons)
    candidates = [as_match(*s, 1 / len(top) if s[0] == best else 0.5 / len(scored)) for s in scored[:MAX_CANDIDATES]]
    reasons.append(f"ambiguous: {len(top)} standard addresses fit equally; give the district or more parts")
    return ParseOut(**out, match=None, candidates=candidates, confidence=candidates[0].confidence, reasons=reasons)


async def match(session: AsyncSession, parsed: Parsed, speller=None) -> ParseOut:
    plan = reading(parsed, speller)
    return decide(plan, await fetch(session, plan.query))


async def parse_and_match(session: AsyncSession, gazetteer: Gazetteer, text: str) -> ParseOut:
    return await match(session, parse(gazetteer.dictionary, text), gazetteer.road_speller)
