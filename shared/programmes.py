"""The social-assistance programmes (救助项目): their codes, which every service and the gateway share, and labels."""

from __future__ import annotations

from typing import Literal, get_args

ProgrammeCode = Literal[
    "dibao",
    "dibao_marginal",
    "tekun",
    "orphan_institution",
    "orphan_scattered",
    "child_in_difficulty",
    "disability_living_subsidy",
    "disability_care_subsidy",
]
PROGRAMMES: tuple[str, ...] = get_args(ProgrammeCode)

LABELS: dict[str, str] = {
    "dibao": "低保",
    "dibao_marginal": "低保边缘",
    "tekun": "特困供养",
    "orphan_institution": "集中供养孤儿",
    "orphan_scattered": "散居孤儿",
    "child_in_difficulty": "困境儿童",
    "disability_living_subsidy": "困难残疾人生活补贴",
    "disability_care_subsidy": "重度残疾人护理补贴",
}
# The programmes a household (not one person) is enrolled in; the others are granted to a member.
HOUSEHOLD_PROGRAMMES: tuple[str, ...] = ("dibao", "dibao_marginal")
