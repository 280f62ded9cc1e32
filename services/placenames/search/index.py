"""Names as you type: prefix, pinyin (initials or in full) and one-character typos over the gazetteer, in memory.

Spellings are kept sorted, so a prefix is a bisect and a short scan; pinyin initials (天童南路 → ttnl) and
full pinyin (中山西路 → zhongshanxilu, typed with or without spaces) the same. ü is indexed both as `v` (how
pinyin keyboards take it) and as `u`. A typo is looked for only when the prefix gave too little: one
character replaced, missing or extra within the typed length.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from services.placenames.parsing.parser import AREA, COMMUNITY, DISTRICT, ROAD, TOWNSHIP, Dictionary, Entry

SUGGESTED_KINDS = (DISTRICT, TOWNSHIP, ROAD, AREA, COMMUNITY)  # also the ranking by level
MATCH_RANK = {"exact": 0, "prefix": 1, "pinyin": 2, "typo": 3}


def initials(spelling: str) -> str:
    return "".join(s[0] for s in syllables(spelling))


@lru_cache(maxsize=50_000)
def syllables(spelling: str) -> tuple[str, ...]:
    """Toneless pinyin, one syllable per character, read in context (重庆 chongqing, 银行 yinhang); ü as v."""
    return tuple(s.lower() for s in lazy_pinyin(spelling, style=Style.NORMAL, errors="ignore"))


def full_pinyin_keys(spelling: str) -> set[str]:
    """The spelling's full pinyin run together: `zhongshanxilu`; with ü also as u (绿 lv and lu)."""
    joined = "".join(syllables(spelling))
    return {joined, joined.replace("v", "u")} if joined else set()


@dataclass(frozen=True, slots=True)
class Suggestion:
    spelling: str
    entry: Entry
    match: str
    score: float


class NameIndex:
    def __init__(self, dictionary: Dictionary):
        self.entries: dict[str, tuple[Entry, ...]] = {}
        for spelling, by_kind in dictionary.names.items():
            kept = tuple(e for kind, es in by_kind if kind in SUGGESTED_KINDS for e in es)
            if kept:
                self.entries[spelling] = kept
        self.spellings = sorted(self.entries)
        self.by_initials = sorted((initials(s), s) for s in self.spellings)
        self.by_pinyin = sorted({(key, s) for s in self.spellings for key in full_pinyin_keys(s)})
        # Typo candidates: spellings sharing the first or the second character with what was typed.
        self.by_char: dict[tuple[int, str], list[str]] = {}
        for s in self.spellings:
            for position in (0, 1):
                if len(s) > position:
                    self.by_char.setdefault((position, s[position]), []).append(s)

    def _prefixed(self, items: list, key: str, get) -> list[str]:
        found, i = [], bisect_left(items, key if isinstance(items[0], str) else (key,))
        while i < len(items) and get(items[i]).startswith(key):
            found.append(items[i] if isinstance(items[i], str) else items[i][1])
            i += 1
            if len(found) >= 200:
                break
        return found

    def suggest(self, fragment: str, *, district: str | None = None, limit: int = 10) -> list[Suggestion]:
        if not fragment or not self.spellings:
            return []
        hits: dict[str, str] = {}
        untyped: dict[str, int] = {}  # characters of the spelling not typed yet: fewer ranks higher
        if fragment.isascii() and fragment.isalpha():
            typed = fragment.lower()
            # Full pinyin first (zhongshan…), then initials (zsxl).
            for s in self._prefixed(self.by_pinyin, typed, lambda t: t[0]):
                if s not in hits:
                    hits[s], untyped[s] = "pinyin", _syllables_left(s, len(typed))
            for s in self._prefixed(self.by_initials, typed, lambda t: t[0]):
                if s not in hits:
                    hits[s], untyped[s] = "pinyin", max(len(s) - len(typed), 0)
        else:
            for s in self._prefixed(self.spellings, fragment, lambda s: s):
                hits.setdefault(s, "exact" if s == fragment else "prefix")
            if len(hits) < limit and len(fragment) >= 2:
                pool = set(self.by_char.get((0, fragment[0]), ())) | set(self.by_char.get((1, fragment[1]), ()))
                for s in sorted(pool):
                    if s not in hits and _one_typo(fragment, s):
                        hits[s] = "typo"
        ranked: list[Suggestion] = []
        for spelling, match in hits.items():
            left = untyped.get(spelling, max(len(spelling) - len(fragment), 0))
            for e in self.entries[spelling]:
                if district and e.district and e.district != district:
                    continue
                score = (
                    1.0
                    - 0.15 * MATCH_RANK[match]
                    - 0.03 * SUGGESTED_KINDS.index(e.kind)
                    - 0.005 * left
                    - (0.05 if e.status != "standard" else 0)
                )
                ranked.append(Suggestion(spelling, e, match, round(max(score, 0.01), 3)))
        ranked.sort(key=lambda s: (-s.score, s.spelling))
        # One line per spelling and what it means today: 百丈街道 of today and of 2016 (江东区's, now
        # 鄞州区's) are one suggestion, the better scored.
        seen: set[tuple[str, str, str]] = set()
        unique = [
            s
            for s in ranked
            if (key := (s.spelling, s.entry.kind, s.entry.standard_ref)) not in seen and not seen.add(key)
        ]
        return unique[:limit]


def _syllables_left(spelling: str, letters: int) -> int:
    """How many of the spelling's characters lie beyond the first `letters` letters of its full pinyin."""
    done = 0
    for syllable in syllables(spelling):
        letters -= len(syllable)
        if letters < 0:
            break
        done += 1
    return len(spelling) - done


def _one_typo(typed: str, spelling: str) -> bool:
    """Whether `spelling` begins with `typed` but for one character replaced, left out or added."""
    n = len(typed)
    if len(spelling) >= n and sum(a != b for a, b in zip(typed, spelling[:n], strict=False)) == 1:
        return True
    for cut in range(n):  # an extra character typed
        if spelling.startswith(typed[:cut] + typed[cut + 1 :]) and len(typed) > 2:
            return True
    for cut in range(n):  # a character left out
        head = spelling[: n + 1]
        if len(head) == n + 1 and head[:cut] + head[cut + 1 :] == typed:
            return True
    return False
