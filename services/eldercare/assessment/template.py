"""The capability-assessment template (GB/T 42195-2022) is data, not code: items, maxima, level bands and
adjustments are read from a versioned JSON file under services/eldercare/data/, with its source and doubts.

A new version of the standard (or a correction of this one) is a new file; each assessment stores the version
that scored it, so old assessments keep their meaning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared.errors import FieldProblem
from shared.i18n import N_

DATA = Path(__file__).resolve().parent.parent / "data"
CURRENT = "gbt42195-2022.v2.json"  # v1 had 上下楼梯 out of 4 (total 91); see the file's source notes


@dataclass(frozen=True)
class Scored:
    indicator_scores: dict[str, int]
    total: int
    raw_level: int
    level: int
    adjustments: list[str]


class Template:
    def __init__(self, raw: dict):
        self.raw = raw
        self.version: str = raw["version"]
        self.items = {
            item["code"]: (indicator["code"], item["max"])
            for indicator in raw["indicators"]
            for item in indicator["items"]
        }
        self.bands = sorted(raw["levels"], key=lambda b: -b["min_total"])
        self.adjustments = {a["code"]: a for a in raw["adjustments"]}
        self.level_names = {b["level"]: b["name"] for b in raw["levels"]}
        self.reassessment_months: int = raw["reassessment_months"]

    def problems(self, answers: dict[str, int]) -> list[FieldProblem]:
        """A field problem for every answer missing, unknown or out of range."""
        found = []
        for code, (_indicator, maximum) in self.items.items():
            field = f"answers.{code}"
            if code not in answers:
                found.append(FieldProblem(field=field, location="body", message=N_("missing: every item is scored")))
            elif not 0 <= answers[code] <= maximum:
                message = N_("must be between 0 and {maximum}")
                found.append(FieldProblem(field=field, location="body", message=message).with_params(maximum=maximum))
        found += [
            FieldProblem(field=f"answers.{code}", location="body", message=N_("not an item of this template"))
            for code in answers
            if code not in self.items
        ]
        return found

    def score(
        self, answers: dict[str, int], *, coma: bool, dementia_or_mental_disorder: bool, care_risk_events_30d: int
    ) -> Scored:
        indicator_scores: dict[str, int] = {}
        for code, (indicator, _maximum) in self.items.items():
            indicator_scores[indicator] = indicator_scores.get(indicator, 0) + answers[code]
        total = sum(indicator_scores.values())
        raw_level = next(b["level"] for b in self.bands if total >= b["min_total"])
        level, applied = raw_level, []
        worst = max(self.level_names)
        if coma:
            level = self.adjustments["coma"]["level"]
            applied.append("coma")
        else:
            worse = []
            if dementia_or_mental_disorder:
                worse.append("dementia_or_mental_disorder")
            if care_risk_events_30d >= self.adjustments["care_risk_events"]["threshold"]:
                worse.append("care_risk_events")
            if worse:  # either reason, or both, make it one level worse (not two)
                level = min(worst, raw_level + 1)
                applied += worse
        return Scored(indicator_scores, total, raw_level, level, applied)


@cache
def load(name: str = CURRENT) -> Template:
    return Template(json.loads((DATA / name).read_text(encoding="utf-8")))
