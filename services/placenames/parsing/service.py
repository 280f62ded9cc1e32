"""Parsing then matching: the parser reads the parts in memory; one query fetches the standard addresses
on the roads or in the areas it found, and the best is chosen by which parts agree."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.addresses.models import Address
from services.placenames.gazetteer import Gazetteer
from services.placenames.parsing.parser import AREA, DISTRICT, ROAD, Parsed, parse
from services.placenames.text import WIDTH
from services.placenames.parsing.schemas import AddressMatch, ParseOut, PartOut, RoadSuggestion, Span

NUMBER_FIELDS = ("house_number", "building", "unit", "room")
MAX_CANDIDATES = 5
_LEVEL_NAMES = {"house_number": "house number", "building": "building", "unit": "unit", "room": "room"}


def _parts_out(parsed: Parsed) -> list[PartOut]:
    out = []
    for p in sorted(parsed.parts.values(), key=lambda p: p.start):
        chosen = p.chosen or (p.entries[0] if p.entries else None)
        out.append(PartOut(kind=p.kind, text=p.text, start=p.start, end=p.end,
                           value=chosen.standard_name if chosen else p.value,
                           ref=chosen.standard_ref if chosen else None,
                           written_status=chosen.status if chosen else None))
    return out


def _name_reasons(parsed: Parsed) -> tuple[float, list[str]]:
    """What lowers trust in the reading itself: old or alias names, a missing or contradicted district,
    text not understood."""
    confidence, reasons = 1.0, []
    for p in parsed.parts.values():
        chosen = p.chosen or (p.entries[0] if p.entries else None)
        if chosen is not None and chosen.status != "standard":
            reasons.append(f"{p.text} is {'an old' if chosen.status == 'historical' else 'an alias'} name; "
                           f"today: {chosen.standard_name}")
            confidence *= 0.98
    if DISTRICT not in parsed.parts:
        confidence *= 0.97
        reasons.append("no district given" + (f"; implied: {parsed.district_code}" if parsed.district_code else ""))
    road = parsed.parts.get(ROAD)
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


def _score(parsed: Parsed, address: Address) -> tuple[int, list[str]] | None:
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
    return [RoadSuggestion(written=parsed.text[at:b], start=at, end=b, resembles=g.spelling,
                           standard_name=g.entry.standard_name, ref=g.entry.standard_ref,
                           district_code=g.entry.district, reason=g.reason, score=g.score) for g, at in ranked]


async def match(session: AsyncSession, parsed: Parsed, speller=None) -> ParseOut:
    """`speller` (the gazetteer's road speller): when given, a road written that is not recorded gets the
    nearest recorded ones proposed in `road_suggestions`, and named in the reasons, never applied."""
    confidence, reasons = _name_reasons(parsed)
    suggestions = road_suggestions(parsed, speller)
    if suggestions:
        reasons.append(f"{suggestions[0].written} is not a recorded road; not replaced. Nearest: " + "; ".join(
            f"{s.standard_name} ({s.reason})" for s in suggestions[:3]))
    out = dict(text=parsed.text, parts=_parts_out(parsed),
               unparsed=[Span(text=parsed.text[a:b], start=a, end=b) for a, b in parsed.unparsed],
               district_code=parsed.district_code, road_suggestions=suggestions)
    road_ids = name_refs(parsed.parts.get(ROAD), parsed.district_code)
    area_ids = name_refs(parsed.parts.get(AREA), parsed.district_code)
    if not road_ids and not area_ids:
        reasons.append("no road or residential area recognised: nothing to match")
        return ParseOut(**out, match=None, candidates=[], confidence=round(confidence * 0.5, 3), reasons=reasons)
    house = parsed.parts.get("house_number")
    where = []
    if road_ids:
        on_road = Address.road_id.in_(road_ids)
        where.append(and_(on_road, Address.house_number == house.value) if house else on_road)
    if area_ids:
        where.append(Address.area_id.in_(area_ids))
    # What _score would refuse is left in the database: a part not written must be empty in the address (a
    # road's 3,700 rooms are not fetched for 天童南路 alone), a part written must agree or be empty.
    agree = []
    for field in NUMBER_FIELDS:
        column, part = getattr(Address, field), parsed.parts.get(field)
        agree.append(column.is_(None) if part is None else or_(column == part.value, column.is_(None)))
    rows = (await session.scalars(select(Address).where(Address.status == "current", or_(*where), *agree)
                                  .order_by(Address.id).limit(500))).all()
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

    def as_match(agreed: int, a: Address, missing: list[str], share: float) -> AddressMatch:
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


async def parse_and_match(session: AsyncSession, gazetteer: Gazetteer, text: str) -> ParseOut:
    return await match(session, parse(gazetteer.dictionary, text), gazetteer.road_speller)
