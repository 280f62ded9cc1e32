"""The address parser: free Chinese text → parts with spans, in memory, no database.

One pass left to right. At each position the longest dictionary name wins (province, city, district,
township, community, road, residential area or building; old and alias names included); where no name
starts, compiled patterns read the number parts (house number, building, unit, floor, room) in their usual
written forms. The dictionary is a hash of names with, per first character, the lengths to try, so a
position costs a handful of lookups. Full-width forms are mapped one character to one character, so
spans in the normalised text are spans in the caller's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.placenames.text import NUMBER, WIDTH, annex_text, number_text

# Kinds of names in the dictionary, in the order the parts of an address come.
PROVINCE, CITY, DISTRICT, TOWNSHIP, COMMUNITY, ROAD, AREA = (
    "province",
    "city",
    "district",
    "township",
    "community",
    "road",
    "area",
)
NUMBER_PARTS = ("lane", "house_number", "building", "unit", "floor", "room")
# A lane (弄) is numbered along its road, and its houses along the lane: 洪塘中路500弄3号.
PARTS = (
    PROVINCE,
    CITY,
    DISTRICT,
    TOWNSHIP,
    COMMUNITY,
    ROAD,
    "lane",
    "house_number",
    AREA,
    "building",
    "unit",
    "floor",
    "room",
)

SKIP = set(" \t\r\n,，、.。:：;；()（）[]【】\"'“”‘’/\\|·")


@dataclass(slots=True, frozen=True)
class Entry:
    """A name the parser knows: its kind, and what it stands for.

    `ref` is the division code (districts, townships, communities) or place-name id (roads, areas); for an
    old or alias name, `standard_ref` and `standard_name` are what it resolves to today, `district` is the
    district it lies in (for roads and areas) and `status` says whether the written name is standard.
    """

    kind: str
    name: str
    ref: str
    standard_ref: str
    standard_name: str
    district: str | None
    status: str = "standard"
    short_form: bool = False  # a division's name without its suffix (东柳 for 东柳街道)


@dataclass(slots=True)
class Part:
    kind: str
    text: str
    start: int
    end: int
    value: str
    entries: tuple[Entry, ...] = ()
    chosen: Entry | None = None  # the entry the context points to (a district's 人民路, not another's)


@dataclass(slots=True)
class Parsed:
    text: str
    parts: dict[str, Part] = field(default_factory=dict)
    unparsed: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    district_code: str | None = None  # given, or implied by the township, community or road
    # Where the text names a road the dictionary does not know, recognised by its form (Han characters right
    # before a lane or house number, or ending like a road at the end of the text): its span. It is kept as
    # the road part, as written, with no entries (unknown to the registry).
    unknown_road: tuple[int, int] | None = None
    # (the district as written, the code of the district its township lies in today) when they disagree
    moved_district: tuple[str, str] | None = None


class Dictionary:
    """Names by spelling, and per first character the name lengths that start with it (longest first).

    Each spelling keeps its entries grouped by kind in address order, so that a name that is both (a
    township's short form and a community, say) fills the first part not yet read.
    """

    def __init__(self, entries: list[Entry]):
        grouped: dict[str, dict[str, list[Entry]]] = {}
        for entry in entries:
            grouped.setdefault(entry.name, {}).setdefault(entry.kind, []).append(entry)
        self.names: dict[str, tuple[tuple[str, tuple[Entry, ...]], ...]] = {
            name: tuple((k, tuple(by_kind[k])) for k in PARTS if k in by_kind) for name, by_kind in grouped.items()
        }
        lengths: dict[str, set[int]] = {}
        for name in self.names:
            lengths.setdefault(name[0], set()).add(len(name))
        self.lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}

    def __len__(self) -> int:
        return len(self.names)

    def longest(self, text: str, start: int):
        """(spelling, ((kind, entries), ...)) of the longest name starting at `start`, or None."""
        names = self.names
        for length in self.lengths.get(text[start], ()):
            found = names.get(text[start : start + length])
            if found is not None:
                return text[start : start + length], found
        return None


_N = NUMBER
# Number parts as written after a road or an area. Alternatives are tried in order at one position.
TAIL = re.compile(
    rf"""
  (?P<tri_b>\d+)-(?P<tri_u>\d+)-(?P<tri_r>\d+)(?:室|号|房)?       # 12-3-1001 = 12幢3单元1001室
| (?P<lane>{_N})弄                                               # 500弄
| (?P<sub_of>{_N})号?之(?P<sub>{_N})号?                          # 12号之一, 12之1号: sub-number 12-1
| (?:(?P<annex_of>{_N})号)?附(?P<annex>{_N})号?                  # 附1号, 12号附1号: an annexed door (附号)
| (?P<house>{_N}(?:-{_N})?)号(?!楼|院|幢|房)                     # 588号, 88-2号
| (?P<building>{_N}|[A-Za-z])(?:号楼|号幢|号院|幢|栋|座|\#楼?|＃)   # 3号楼, 三幢, 12栋, A座, 5#
| (?P<unit>{_N})单元
| (?P<floor>{_N})(?:楼|层)
| (?P<room>{_N})(?:室|房|号房)
| (?P<pair_a>\d+)-(?P<pair_b>\d+)(?!-)
| (?P<bare>\d+)
""",
    re.X,
)
# A residential area or building the dictionary does not know, recognised by how such names end.
AREA_ENDINGS = (
    "小区|花园|花苑|家园|公寓|新村|大厦|广场|中心|山庄|名苑|嘉园|雅苑|公馆|大楼|宿舍|苑|府|城|"
    "大学|学院|医院|中学|小学|学校|幼儿园|园区|工业园|市场"
)
AREA_TEXT = re.compile(rf"[\u4e00-\u9fff]{{2,10}}?(?:{AREA_ENDINGS})")


def _set(
    parsed: Parsed, kind: str, text: str, start: int, end: int, value: str, entries: tuple[Entry, ...] = ()
) -> bool:
    if kind in parsed.parts:
        return False
    parsed.parts[kind] = Part(kind, text, start, end, value, entries)
    return True


def _set_house(parsed: Parsed, piece: str, start: int, end: int, value: str) -> None:
    if not _set(parsed, "house_number", piece, start, end, value):
        _set(parsed, "building", piece, start, end, value)  # 588号3号: the second is a building


def _number_tokens(parsed: Parsed, raw: str, m: re.Match) -> None:
    """Assign one matched number token to the part it means, given the parts already read."""
    start, end, g, token = m.start(), m.end(), m.group, m.lastgroup
    piece = raw[start:end]
    parts = parsed.parts
    if token == "lane":
        _set(parsed, "lane", piece, start, end, number_text(g("lane")))
    elif token == "tri_r":
        _set(parsed, "building", piece, start, end, number_text(g("tri_b")))
        _set(parsed, "unit", piece, start, end, number_text(g("tri_u")))
        _set(parsed, "room", piece, start, end, number_text(g("tri_r")))
        parsed.notes.append(f"{piece} read as building-unit-room")
    elif token == "sub":  # 之 numbers a door after the one before it, as a dash does (the register's 12-1)
        _set_house(parsed, piece, start, end, f"{number_text(g('sub_of'))}-{number_text(g('sub'))}")
    elif token == "annex":
        _set_house(parsed, piece, start, end, annex_text(g("annex_of"), g("annex")))
    elif token == "house":
        value = g("house")
        value = "-".join(number_text(p) for p in value.split("-")) if "-" in value else number_text(value)
        _set_house(parsed, piece, start, end, value)
    elif token in ("building", "unit", "room"):
        _set(parsed, token, piece, start, end, number_text(g(token).upper()))
    elif token == "floor":
        # 3楼 before any building: people mean the building (3号楼).
        _set(
            parsed,
            "floor" if "building" in parts or "unit" in parts else "building",
            piece,
            start,
            end,
            number_text(g("floor")),
        )
    elif token == "pair_b":
        a, b = number_text(g("pair_a")), number_text(g("pair_b"))
        if (ROAD in parts or parsed.unknown_road) and "house_number" not in parts:
            _set(parsed, "house_number", piece, start, end, f"{a}-{b}")
        else:  # 12-1001 after a house number or an area: building and room
            _set(parsed, "building", piece, start, end, a)
            _set(parsed, "room", piece, start, end, b)
    else:
        value = number_text(g("bare"))
        if (
            (ROAD in parts or parsed.unknown_road)
            and "house_number" not in parts
            and AREA not in parts
            and "building" not in parts
        ):
            _set(parsed, "house_number", piece, start, end, value)
        elif "building" in parts or "unit" in parts:
            _set(parsed, "room", piece, start, end, value)
        else:
            _set(parsed, "building", piece, start, end, value)


_NEEDS_WIDTH = re.compile("[" + "".join(chr(c) for c in sorted(WIDTH)).replace("-", "\\-") + "]")


def parse(dictionary: Dictionary, raw: str) -> Parsed:
    # str.translate walks a dict per character: only pay for it when a full-width form is there.
    text = raw.translate(WIDTH) if _NEEDS_WIDTH.search(raw) else raw
    parsed = Parsed(text=raw)
    parts = parsed.parts
    unparsed = parsed.unparsed
    longest, tail, skip = dictionary.longest, TAIL.match, SKIP
    anchored = False  # a road, area, township or community has been read: numbers may follow
    in_numbers = False  # the building, unit or room has started: no more names
    numbers_end = -1  # where the last number part read ends
    i, n = 0, len(text)
    while i < n:
        if text[i] in skip:
            i += 1
            continue
        hit = None if in_numbers else longest(text, i)
        if hit is not None and _starts_a_road(hit, text, i):
            # A division's short form that begins an unknown road's name (东柳 of 东柳路): the road it is.
            road_end = _ROAD_AFTER.match(text, i + len(hit[0])).end()
            if unparsed and unparsed[-1][1] == i:
                unparsed[-1] = (unparsed[-1][0], road_end)
            else:
                unparsed.append((i, road_end))
            i = road_end
            continue
        if (
            hit is not None
            and anchored
            and not in_numbers
            and AREA not in parts
            and all(
                kind in parts or (kind in (PROVINCE, CITY) and "house_number" in parts) for kind, _entries in hit[1]
            )
        ):
            # A name that fills nothing new (宁波 in 宁波大学 once the city was read), or a province or city after
            # the house number (浙江 in 浙江万里学院), may begin an area's name.
            m = AREA_TEXT.match(text, i)
            if m is not None:
                parts[AREA] = Part(AREA, raw[i : m.end()], i, m.end(), m.group())
                i = m.end()
                continue
        if hit is not None:
            name, by_kind = hit
            end = i + len(name)
            for kind, entries in by_kind:
                if kind not in parts:
                    parts[kind] = Part(kind, raw[i:end], i, end, entries[0].standard_name, entries)
                    anchored = anchored or kind in ANCHORS
                    break
            else:
                if by_kind[0][0] not in (PROVINCE, CITY):
                    parsed.notes.append(f"{name} ignored: a {by_kind[0][0]} was already read")
            i = end
            continue
        if (
            text[i] in _NUMBER_START
            and unparsed
            and ROAD not in parts
            and AREA not in parts
            and parsed.unknown_road is None
            and not in_numbers
        ):
            run = _road_run(text, unparsed[-1], i, skip)
            if run is not None:
                m = tail(text, i)
                if m is not None and m.lastgroup in _NUMBERS:
                    parsed.unknown_road = run  # numbers after it are read as on a road; no road is chosen
                    anchored = True
        if anchored:
            m = tail(text, i)
            if m is not None:
                _number_tokens(parsed, raw, m)
                in_numbers = in_numbers or m.lastgroup not in _NUMBERS or "building" in parts
                i = numbers_end = m.end()
                continue
            if text[i] == "-" and i == numbers_end and i + 1 < n and text[i + 1] in _NUMBER_START:
                i += 1  # a dash between number parts (588号-3-501, －, —, –): a separator, as a space is
                continue
            if not in_numbers and AREA not in parts:
                m = AREA_TEXT.match(text, i)
                if m is not None:
                    parts[AREA] = Part(AREA, raw[i : m.end()], i, m.end(), m.group())
                    i = m.end()
                    continue
        # Nothing recognised here: extend the current run of unrecognised characters.
        if unparsed and unparsed[-1][1] == i:
            unparsed[-1] = (unparsed[-1][0], i + 1)
        else:
            unparsed.append((i, i + 1))
        i += 1
    if unparsed and ROAD not in parts and AREA not in parts and parsed.unknown_road is None:
        run = _road_run(text, unparsed[-1], n, skip)
        if run is not None and text[run[1] - 1] in _ROAD_ENDINGS:
            parsed.unknown_road = run  # typed so far: 天同南路
    if parsed.unknown_road is not None and ROAD not in parts:
        a, b = parsed.unknown_road
        unparsed.remove(parsed.unknown_road)
        parts[ROAD] = Part(ROAD, raw[a:b], a, b, text[a:b])
    _choose(parsed)
    return parsed


def _starts_a_road(hit, text: str, i: int) -> bool:
    name, by_kind = hit
    return (
        all(e.short_form for _kind, entries in by_kind for e in entries)
        and _ROAD_AFTER.match(text, i + len(name)) is not None
    )


_NUMBER_START = frozenset("0123456789零〇○一二两三四五六七八九十百千")
_ROAD_ENDINGS = frozenset("路街巷弄道桥")
_HAN = re.compile(r"[\u4e00-\u9fff]{2,12}")
# Unknown text that ends like a residential area or a division is not taken for a road.
_NOT_ROAD = re.compile(rf".*(?:{AREA_ENDINGS}|社区|村|街道|镇|乡|区|县|市|省)$")
# What follows a name when it is the start of a road's name instead: 东柳 in 东柳路, 东柳中路, 东柳大道.
_ROAD_AFTER = re.compile(r"[东西南北中]?(?:路|街|大道|巷|弄)")
_NUMBERS = frozenset(("lane", "sub", "annex", "house", "pair_b", "bare"))  # tokens that may follow a road directly


def _road_run(text: str, run: tuple[int, int], at: int, skip) -> tuple[int, int] | None:
    """The last run of unrecognised text, when it ends right before `at` (spaces and commas aside) and
    could be a road's name: 2–12 Han characters not ending like an area or a division."""
    a, b = run
    if b > at or any(text[k] not in skip for k in range(b, at)):
        return None
    if not _HAN.fullmatch(text, a, b) or _NOT_ROAD.match(text[a:b]):
        return None
    return run


def _pick(part: Part | None, prefix: str | None) -> Entry | None:
    """The entry of an ambiguous name that lies inside `prefix` (a division code), else the first."""
    if part is None:
        return None
    if prefix:
        for e in part.entries:
            if (e.district or e.standard_ref).startswith(prefix) or e.standard_ref.startswith(prefix):
                part.chosen = e
                return e
    part.chosen = part.entries[0] if part.entries else None
    return part.chosen


def _choose(parsed: Parsed) -> None:
    """Settle ambiguous names from the context: the district given (or implied by the township or the road)
    chooses among same-named townships, communities and roads."""
    parts = parsed.parts
    district = _pick(parts.get(DISTRICT), None)
    district_code = district.standard_ref if district else None
    township = _pick(parts.get(TOWNSHIP), district_code)
    if (
        township is not None
        and district_code is not None
        and township.district != district_code
        and not any(e.district == district_code for e in parts[TOWNSHIP].entries)
    ):
        # A township written under the district it left (集士港镇 under 鄞州区, before 2016): where it lies
        # today wins, and the reading says so.
        parsed.notes.append(
            f"{parts[TOWNSHIP].text} lies in {township.district} today, not in {parts[DISTRICT].text} as written"
        )
        parsed.moved_district = (parts[DISTRICT].text, township.district)
        district_code = township.district
    if district_code is None and township is not None:
        district_code = township.district
    community = _pick(parts.get(COMMUNITY), township.ref if township else district_code)
    if district_code is None and community is not None:
        district_code = community.district
    road = parts.get(ROAD)
    if road is not None and road.entries:
        chosen = _pick(road, district_code)
        road.value = chosen.standard_name
        if district_code is None and len({e.district for e in road.entries}) == 1:
            district_code = chosen.district
    area = parts.get(AREA)
    if area is not None and area.entries:
        area.value = _pick(area, district_code).standard_name
    if district is None and district_code is not None:
        parsed.notes.append(f"district {district_code} implied by the names given")
    parsed.district_code = district_code


AFTER_HOUSE = frozenset(("building", "unit", "floor", "room"))
ANCHORS = frozenset((ROAD, AREA, TOWNSHIP, COMMUNITY))
