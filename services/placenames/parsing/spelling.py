"""Misspelt road names: when the text names a road the dictionary does not know, the recorded road names
nearest to it, ranked, each with the reason. They are proposals only: the parse never takes one in place
of what was written.

Nearness, best first:
1. same sound (同音): the same toneless pinyin, read in context (天同南路 and 天童南路 are both tian tong nan lu);
2. similar sound (近音): the same once the sounds Ningbo speakers (and Wu speakers generally) often merge
   are merged: zh/z, ch/c, sh/s, n/l, h/f at the start, -ng/-n at the end (中山西陆 → 中山西路 is 1 below);
3. one character written wrong (解方北路 for 解放北路, sounding different);
4. one character left out (天童南 for 天童南路) or one too many (天童南大路 for 天童南路).
A road in another district than the one written ranks lower; a name of three characters or fewer there is
proposed only for its sound (one wrong character of two that carry the name is too far).

The road names are the parser's dictionary's (standard, alias and old names, each resolving to today's
standard name), a few hundred in a city; a lookup compares the written name with those of a similar length,
and with the ones that sound the same through a hash of their pinyin, so it stays cheap. An edit distance of
one by hand is a few lines; no fuzzy-matching library is needed for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.placenames.parsing.parser import ROAD, Dictionary, Entry
from services.placenames.search.index import syllables

# Initials and finals merged for "similar sound". Longest first, so zh is read before z.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("h", "f"))
_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))
SCORES = {
    "same sound": 0.9,
    "similar sound": 0.8,
    "one character wrong": 0.7,
    "one character missing": 0.65,
    "one character too many": 0.6,
}
SUFFIX_MISSING = 0.72  # 天童南 for 天童南路: the road's last character (路, 街…) left out is common
ALIAS = 0.05  # lower when the name it resembles is an alias or an old name
AHEAD = 0.1  # lower per character of unrecognised text left ahead of the name it resembles
OTHER_DISTRICT = 0.1  # lower when the text names a district the road is not in
MAX_WRITTEN = 12


def _fuzzy(syllable: str) -> str:
    for long, short in _INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FINALS:
        if syllable.endswith(long):
            syllable = syllable[: -len(long)] + short
            break
    return syllable


@dataclass(frozen=True, slots=True)
class RoadGuess:
    written: str
    spelling: str  # the recorded name it resembles (may be an alias or an old name)
    entry: Entry  # what that name stands for today
    reason: str
    score: float


class RoadSpeller:
    def __init__(self, dictionary: Dictionary):
        self.roads: dict[str, tuple[Entry, ...]] = {}
        for spelling, by_kind in dictionary.names.items():
            for kind, entries in by_kind:
                if kind == ROAD:
                    self.roads[spelling] = entries
        self.by_length: dict[int, list[str]] = {}
        self.by_sound: dict[tuple[str, ...], list[str]] = {}
        self.by_fuzzy: dict[tuple[str, ...], list[str]] = {}
        for spelling in sorted(self.roads):
            self.by_length.setdefault(len(spelling), []).append(spelling)
            sound = syllables(spelling)
            if len(sound) == len(spelling):
                self.by_sound.setdefault(sound, []).append(spelling)
                self.by_fuzzy.setdefault(tuple(map(_fuzzy, sound)), []).append(spelling)

    def guesses(self, written: str, *, district: str | None = None, limit: int = 5) -> list[RoadGuess]:
        """Recorded roads near `written` (or near one of its tails: text before a road name that was not
        understood may have been taken in with it), best first, one per standard road."""
        written = written[-MAX_WRITTEN:]
        found: dict[str, RoadGuess] = {}
        # The whole text first; a shorter tail (3 characters at least) only when the longer gave nothing.
        for cut in range(max(len(written) - 2, 1)):
            if found:
                break
            tail = written[cut:]
            for spelling, reason in self._near(tail):
                for entry in self.roads[spelling]:
                    elsewhere = bool(district and entry.district and entry.district != district)
                    if elsewhere and len(spelling) <= 3 and reason not in ("same sound", "similar sound"):
                        continue  # 火星路 in 北仑区 is not 聚星路 of 镇海区: one of two real characters is too much
                    score = SCORES[reason] - AHEAD * cut
                    if reason == "one character missing" and spelling[:-1] == tail:
                        score = SUFFIX_MISSING - AHEAD * cut
                    if elsewhere:
                        score -= OTHER_DISTRICT
                    if entry.status != "standard":
                        score -= ALIAS
                    guess = RoadGuess(tail, spelling, entry, self._why(tail, spelling, entry, reason), round(score, 3))
                    key = entry.standard_ref
                    if key not in found or found[key].score < guess.score:
                        found[key] = guess
        return sorted(found.values(), key=lambda g: (-g.score, g.entry.standard_name, g.entry.standard_ref))[:limit]

    def _near(self, tail: str):
        if tail in self.roads:
            return  # a recorded name: nothing to correct (the parser would have read it)
        sound = syllables(tail)
        if len(sound) == len(tail):
            for spelling in self.by_sound.get(sound, ()):
                yield spelling, "same sound"
            heard = set(self.by_sound.get(sound, ()))
            for spelling in self.by_fuzzy.get(tuple(map(_fuzzy, sound)), ()):
                if spelling not in heard:
                    yield spelling, "similar sound"
        else:
            heard = set()
        n = len(tail)
        for spelling in self.by_length.get(n, ()):
            if spelling not in heard and sum(a != b for a, b in zip(tail, spelling, strict=False)) == 1:
                yield spelling, "one character wrong"
        for spelling in self.by_length.get(n + 1, ()):
            if any(spelling[:i] + spelling[i + 1 :] == tail for i in range(n + 1)):
                yield spelling, "one character missing"
        for spelling in self.by_length.get(n - 1, ()):
            if any(tail[:i] + tail[i + 1 :] == spelling for i in range(n)):
                yield spelling, "one character too many"

    @staticmethod
    def _why(tail: str, spelling: str, entry: Entry, reason: str) -> str:
        if reason in ("same sound", "similar sound"):
            why = (
                f"{tail} {'sounds like' if reason == 'similar sound' else 'sounds the same as'} {spelling} "
                f"({' '.join(syllables(spelling))})"
            )
            diffs = [f"{a} for {b}" for a, b in zip(tail, spelling, strict=False) if a != b]
            why += ": " + ", ".join(diffs) if diffs else ""
        elif reason == "one character wrong":
            why = f"{tail} differs from {spelling} in one character: " + next(
                f"{a} for {b}" for a, b in zip(tail, spelling, strict=False) if a != b
            )
        elif reason == "one character missing":
            why = f"{tail} is {spelling} with one character left out"
        else:
            why = f"{tail} is {spelling} with one character too many"
        if entry.status != "standard":
            why += (
                f"; {spelling} is {'an old' if entry.status == 'historical' else 'an alias'} name of "
                f"{entry.standard_name}"
            )
        return why
