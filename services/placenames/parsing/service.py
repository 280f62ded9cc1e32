"""Parsing then matching: the parser reads the parts in memory; one query fetches the standard addresses
on the roads or in the areas it found, and the best is chosen by which parts agree.

The results are built as plain dicts in the shape of `ParseOut`, not as models: a batch of 1,000 texts makes
some 15,000 of them, and a model validates each field as it is made (`shared.schemas`), which cost more than
parsing and matching together. `/parse` and geocoding validate their one result into `ParseOut`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Integer, String, and_, bindparam, column, func, select, union_all, values
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.addresses.models import Address
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing.parser import AREA, DISTRICT, ROAD, TOWNSHIP, Parsed, parse
from services.placenames.parsing.schemas import ParseOut
from services.placenames.text import WIDTH

NUMBER_FIELDS = ("house_number", "building", "unit", "room")
MAX_CANDIDATES = 5
_LEVEL_NAMES = {"house_number": "house number", "building": "building", "unit": "unit", "room": "room"}


def _parts_out(parsed: Parsed) -> list[dict]:
    out = []
    for p in sorted(parsed.parts.values(), key=lambda p: p.start):
        chosen = p.chosen or (p.entries[0] if p.entries else None)
        out.append(
            {
                "kind": p.kind,
                "text": p.text,
                "start": p.start,
                "end": p.end,
                "value": chosen.standard_name if chosen else p.value,
                "ref": chosen.standard_ref if chosen else None,
                "written_status": chosen.status if chosen else "unknown" if p.kind == ROAD else None,
            }
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


def _score(written: tuple[str | None, ...], address: Candidate) -> tuple[int, list[str]] | None:
    """How many number parts agree; None when one contradicts (a different building, say) or the address is
    more specific than the text (it names a room the text does not). `written`: the text's number parts, in
    the order of NUMBER_FIELDS, None where not written."""
    agreed, missing = 0, []
    for field, value in zip(NUMBER_FIELDS, written, strict=True):
        stored = getattr(address, field)
        if value is None:
            if stored is not None:
                return None
        elif stored is None:
            missing.append(f"{_LEVEL_NAMES[field]} {value}")
        elif stored != value:
            return None
        else:
            agreed += 1
    return agreed, missing


def road_suggestions(parsed: Parsed, speller) -> list[dict]:
    """Recorded roads near the one written (`RoadSuggestion`s), when the parser found text that seems to name
    an unknown road.

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
        {
            "written": parsed.text[at:b],
            "start": at,
            "end": b,
            "resembles": g.spelling,
            "standard_name": g.entry.standard_name,
            "ref": g.entry.standard_ref,
            "district_code": g.entry.district,
            "reason": g.reason,
            "score": g.score,
        }
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


@dataclass(slots=True)
class Plan:
    """What the parse of one text found: the part of a match that needs no database (`reading`), finished by
    `decide` with the rows `fetch` found for its `query`. Split so that batches do the former two in worker
    processes (parsing/pool.py); it holds plain values only, so that it is small to pass between them."""

    # The number parts as the registry writes them, in the order of NUMBER_FIELDS: a house in a lane is one
    # house number, 500弄3, as the lookup asks for it; scored against 3 the lane's own address would not match.
    written: tuple[str | None, ...]
    district_code: str | None
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
            f"{suggestions[0]['written']} is not a recorded road; not replaced. Nearest: "
            + "; ".join(f"{s['standard_name']} ({s['reason']})" for s in suggestions[:3])
        )
    out = {
        "text": parsed.text,
        "parts": _parts_out(parsed),
        "unparsed": [{"text": parsed.text[a:b], "start": a, "end": b} for a, b in parsed.unparsed],
        "district_code": parsed.district_code,
        "road_suggestions": suggestions,
    }
    written = tuple(parsed.parts[f].value if f in parsed.parts else None for f in NUMBER_FIELDS)
    numbers = written
    if "lane" in parsed.parts:  # the registry numbers a house in a lane as 500弄3
        house = parsed.parts["house_number"].value if "house_number" in parsed.parts else None
        numbers = (
            f"{parsed.parts['lane'].value}弄{house}" if house else f"{parsed.parts['lane'].value}弄",
            *numbers[1:],
        )
    return Plan(
        numbers,
        parsed.district_code,
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
# Texts per statement. On PostgreSQL the statement is made and compiled once (arrays as parameters, below) and
# prepared once per connection, so a block costs the event loop little more than its rows; SQLite's VALUES list
# is made and compiled again for every block, which costs the loop about 0.3 ms a text.
LOOKUP_BLOCK = {"postgresql": 250, "sqlite": 50}
_WANTED = (column("idx", Integer), column("ref", Integer), *(column(f, String) for f in NUMBER_FIELDS))
_ADDRESSES = Address.__table__.c  # Core columns: the rows come back as plain rows, with no ORM step


def _lookup(wanted, by: str):
    """The current addresses on the roads (`by` "road") or in the areas ("area") of some texts, the first
    MAX_ROWS of each text by id: one statement for many texts, joined with the table `wanted` of (text's index,
    road or area id, its number parts). What _score would refuse is left in the database: a part not written
    must be empty in the address (a road's 3,700 rooms are not fetched for 天童南路 alone), a part written must
    agree or be empty; on a road, the house number must be the one written (none when none is written); in an
    area, it may also be empty.

    The house number is matched in two branches (equal; empty), not by one OR, so that both walk the index on
    (road or area, house number) for each wanted row instead of the database scanning every address."""
    key = _ADDRESSES.road_id if by == "road" else _ADDRESSES.area_id
    columns = [_ADDRESSES[f] for f in Candidate._fields]
    agree = [_ADDRESSES[f].is_(None) | (_ADDRESSES[f] == wanted.c[f]) for f in NUMBER_FIELDS[1:]]
    current = _ADDRESSES.status == "current"
    numbered = (
        select(wanted.c.idx, *columns)
        .join_from(
            wanted, Address.__table__, and_(key == wanted.c.ref, _ADDRESSES.house_number == wanted.c.house_number)
        )
        .where(current, *agree)
    )
    unnumbered = (
        select(wanted.c.idx, *columns)
        .join_from(wanted, Address.__table__, and_(key == wanted.c.ref, _ADDRESSES.house_number.is_(None)))
        .where(current, *agree)
    )
    if by == "road":
        unnumbered = unnumbered.where(wanted.c.house_number.is_(None))
    found = union_all(numbered, unnumbered).subquery()
    ranked = select(
        *found.c, func.row_number().over(partition_by=found.c.idx, order_by=found.c.id).label("n")
    ).subquery()
    return select(*(c for c in ranked.c if c.name != "n")).where(ranked.c.n <= MAX_ROWS)


# PostgreSQL: `wanted` is unnest() of one array per column, bound as parameters: one statement whatever the rows.
_UNNEST = (
    func.unnest(*(bindparam(c.name, type_=ARRAY(c.type)) for c in _WANTED))
    .table_valued(*_WANTED)
    .render_derived(name="wanted")
)
_POSTGRESQL_LOOKUP = {by: _lookup(_UNNEST, by) for by in ("road", "area")}


async def _execute_lookup(connection, by: str, rows: list[tuple]):
    if connection.dialect.name == "postgresql":
        arrays = {c.name: [row[i] for row in rows] for i, c in enumerate(_WANTED)}
        return await connection.execute(_POSTGRESQL_LOOKUP[by], arrays)
    return await connection.execute(_lookup(values(*_WANTED, name="wanted").data(rows).cte("wanted"), by))


async def fetch_many(session: AsyncSession, queries: list[Query]) -> list[list[tuple]]:
    """For each query, the current standard addresses its parts may mean (the first MAX_ROWS by id), as plain
    tuples (see `Candidate`). Two statements for up to LOOKUP_BLOCK texts, not one per text: each statement
    has a cost to the event loop of its own, whatever it fetches."""
    connection = await session.connection()
    block_size = LOOKUP_BLOCK.get(connection.dialect.name, LOOKUP_BLOCK["sqlite"])
    found: list[dict[int, tuple]] = [{} for _ in queries]
    for start in range(0, len(queries), block_size):
        block = list(enumerate(queries[start : start + block_size], start))
        for by in ("road", "area"):
            rows = [(i, ref, *q.numbers) for i, q in block for ref in (q.road_ids if by == "road" else q.area_ids)]
            if rows:
                for idx, *address in await _execute_lookup(connection, by, rows):
                    found[idx][address[0]] = tuple(address)
    # A text with both a road and an area: the first MAX_ROWS of the two together.
    return [[rows[k] for k in sorted(rows)[:MAX_ROWS]] for rows in found]


async def fetch(session: AsyncSession, query: Query) -> list[tuple]:
    return (await fetch_many(session, [query]))[0]


def _result(plan: Plan, reasons: list[str], confidence: float, match=None, candidates=()) -> dict:
    return {
        **plan.out,
        "match": match,
        "candidates": list(candidates),
        "confidence": round(confidence, 3),
        "reasons": reasons,
    }


def decide(plan: Plan, rows: list[tuple]) -> dict:
    """The match, or the ranked candidates, among the rows `fetch` found for the plan's query: a `ParseOut`
    as a plain dict."""
    confidence, reasons = plan.confidence, list(plan.reasons)
    road_ids, area_ids = plan.query.road_ids, plan.query.area_ids
    if not road_ids and not area_ids:
        reasons.append("no road or residential area recognised: nothing to match")
        return _result(plan, reasons, confidence * 0.5)
    scored = []
    for a in map(Candidate._make, rows):
        s = _score(plan.written, a)
        if s is not None:
            if area_ids and road_ids and a.area_id is not None and a.area_id not in area_ids:
                continue
            scored.append((s[0], a, s[1]))
    if not scored:
        reasons.append("no standard address matches these parts")
        return _result(plan, reasons, confidence * 0.5)
    best = max(s[0] for s in scored)
    scored.sort(key=lambda s: (-s[0], s[1].district_code != plan.district_code, s[1].id))

    def as_match(agreed: int, a: Candidate, missing: list[str], share: float) -> dict:
        c, why = confidence * share, list(reasons)
        if missing:
            c *= 0.85 ** len(missing)
            why.append(f"matched at {a.level} level; no standard address for " + ", ".join(missing))
        return {"code": a.code, "full_name": a.full_name, "level": a.level, "confidence": round(c, 3), "reasons": why}

    top = [s for s in scored if s[0] == best]
    if len(top) == 1:
        m = as_match(*top[0], 1.0)
        return {**plan.out, "match": m, "candidates": [], "confidence": m["confidence"], "reasons": m["reasons"]}
    candidates = [as_match(*s, 1 / len(top) if s[0] == best else 0.5 / len(scored)) for s in scored[:MAX_CANDIDATES]]
    reasons.append(f"ambiguous: {len(top)} standard addresses fit equally; give the district or more parts")
    return {
        **plan.out,
        "match": None,
        "candidates": candidates,
        "confidence": candidates[0]["confidence"],
        "reasons": reasons,
    }


async def match(session: AsyncSession, parsed: Parsed, speller=None) -> ParseOut:
    plan = reading(parsed, speller)
    return ParseOut.model_validate(decide(plan, await fetch(session, plan.query)))


async def parse_and_match(session: AsyncSession, gazetteer: Gazetteer, text: str) -> ParseOut:
    return await match(session, parse(gazetteer.dictionary, text), gazetteer.road_speller)
