"""Who counts as a member of the household (共同生活的家庭成员) for the economic assessment.

The rule follows the national 最低生活保障审核确认办法 (民发〔2021〕57号), art. 8-9: counted are the spouse, minor
children, adult children who cannot live on their own (including those in full-time education at undergraduate
level or below), and others with a legal duty of support (法定赡养、扶养、抚养义务) who live together with the
applicant for a long time. Not counted: people serving a prison sentence, people declared missing by a court,
and religious staff (宗教教职人员) away from home for three years or more. It is a pure function so the batch
screening and the single check count the same people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Relationship = Literal["applicant", "spouse", "child", "parent", "grandparent", "grandchild", "sibling", "other"]
Schooling = Literal[
    "none",
    "preschool",
    "primary",
    "junior_secondary",
    "senior_secondary",
    "vocational",
    "junior_college",
    "undergraduate",
    "postgraduate",
]
Exclusion = Literal["in_prison", "declared_missing", "religious_away_3y"]
LabourCapacity = Literal["full", "partial", "none"]

# Full-time education up to undergraduate keeps an adult child in the household; postgraduates live on their own.
UP_TO_UNDERGRADUATE = frozenset(
    {"preschool", "primary", "junior_secondary", "senior_secondary", "vocational", "junior_college", "undergraduate"}
)
ADULT_AGE = 18

EXCLUSION_LABELS = {
    "in_prison": "serving a prison sentence (服刑)",
    "declared_missing": "declared missing (宣告失踪)",
    "religious_away_3y": "religious staff away 3 years or more (宗教教职人员离家3年以上)",
}


@dataclass(frozen=True)
class MemberFacts:
    birth_on: dt.date
    relationship: Relationship
    schooling: Schooling = "none"
    full_time_student: bool = False
    labour_capacity: LabourCapacity = "full"
    lives_together: bool = True
    legal_duty_of_support: bool = False
    exclusion: Exclusion | None = None


def age_on(birth_on: dt.date, day: dt.date) -> int:
    return day.year - birth_on.year - ((day.month, day.day) < (birth_on.month, birth_on.day))


def membership(member: MemberFacts, as_of: dt.date) -> tuple[bool, str]:
    """Whether the person counts as a member on `as_of`, and the basis in words (shown to staff)."""
    if member.birth_on > as_of:  # a day asked about before this child was born (an appeal, an earlier day)
        return False, "not counted: not yet born on that day"
    if member.exclusion is not None:
        return False, f"not counted: {EXCLUSION_LABELS[member.exclusion]}"
    if member.relationship == "applicant":
        return True, "the applicant (申请人)"
    if member.relationship == "spouse":
        return True, "spouse (配偶)"
    if member.relationship == "child":
        if age_on(member.birth_on, as_of) < ADULT_AGE:
            return True, "minor child (未成年子女)"
        if member.full_time_student and member.schooling in UP_TO_UNDERGRADUATE:
            return True, "adult child in full-time education up to undergraduate (在校全日制本科及以下)"
        if member.labour_capacity == "none":
            return True, "adult child unable to live independently (不能独立生活的成年子女)"
        return (
            False,
            "not counted: adult child living independently (neither in full-time education up to "
            "undergraduate nor unable to live on their own)",
        )
    if member.legal_duty_of_support and member.lives_together:
        return True, "legal duty of support and living together (法定赡养扶养抚养义务且共同居住)"
    if not member.legal_duty_of_support:
        return False, "not counted: no legal duty of support towards the applicant"
    return False, "not counted: has a legal duty of support but does not live with the household"
