import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from services.assistance.households.membership import (
    Exclusion,
    LabourCapacity,
    Relationship,
    Schooling,
)
from shared.addresses import AddressIn, AddressOut
from shared.schemas import Schema

DisabilityKind = Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"]
Residence = Literal["registered", "resident"]
Parents = Literal["present", "orphan", "unsupported"]


class MemberIn(Schema):
    """A person in the household. Birth date and sex come from the ID number."""

    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(
        min_length=15,
        max_length=20,
        description="18-character resident ID number (GB 11643)",
        examples=["330212198001010012"],
    )
    name: str = Field(min_length=1, max_length=50)
    relationship: Relationship = Field(description="Relationship to the applicant (与申请人关系)")
    residence: Residence = Field(
        "registered",
        description="户籍 registered or 常住 resident (non-registered residents can receive special assistance)",
    )
    labour_capacity: LabourCapacity = Field(
        "full",
        description="劳动能力: full, partial or none, as staff have verified it. For 特困 (特困人员认定办法 "
        "第七条) people aged 60 or over or under 16, and people with a listed disability (一、二、三级智力或精神, "
        "一、二级肢体, 一级视力残疾, shown by `disability_grade` and `disability_kind`), have no labour capacity "
        "whatever this says; for anyone else, `none` is the evidence of the province's other situations (a serious "
        "illness, an assessed complete loss of labour capacity), taken as recorded, with the proof kept on file. "
        "`none` also keeps an adult child counted as unable to live independently; `full` (18–59) makes a member "
        "able to support the others.",
    )
    disability_grade: int | None = Field(
        None, ge=1, le=4, description="残疾等级 1 (most severe) to 4, from the disability certificate (残疾人证)"
    )
    disability_kind: DisabilityKind | None = Field(None, description="残疾类别; given together with the grade")
    schooling: Schooling = Field(
        "none",
        description="School level (受教育阶段); required with `full_time_student`: "
        "an adult child in full-time education counts up to undergraduate (本科及以下)",
    )
    full_time_student: bool = Field(False, description="在校全日制学生; give `schooling` too (a 422 without it)")
    lives_together: bool = Field(True, description="长期共同居住")
    legal_duty_of_support: bool | None = Field(
        None,
        description="法定赡养、扶养、抚养义务 towards the applicant. Required for a parent, grandparent, grandchild, "
        "sibling or other (a 422 without it): whether they count depends on it, and it is not presumed either way. "
        "Not needed for the applicant, a spouse or a child (they count by their relationship).",
    )
    exclusion: Exclusion | None = Field(
        None,
        description="服刑 in prison, 宣告失踪 declared missing, 宗教教职人员 away 3+ years: recorded but not counted",
    )
    parents: Parents = Field("present", description="For children: orphan (孤儿) or unsupported (事实无人抚养)")
    in_institution: bool = Field(False, description="Lives in a welfare institution (集中供养)")


# The most members one household may have, given at once or added one by one: a bound against a runaway client
# (no source gives one; real households have a handful).
MAX_MEMBERS = 30


class HouseholdIn(AddressIn):
    """The household's home is a standard address, or free text standardised through placenames; its division
    (`area_code`) comes from it."""

    model_config = ConfigDict(extra="forbid")
    members: list[MemberIn] = Field(
        min_length=1, max_length=MAX_MEMBERS, description="Exactly one with relationship `applicant`"
    )


class MemberOut(Schema):
    """A member as callers see them: ID number masked; whether they count, and why."""

    id: int
    id_number_masked: str = Field(examples=["330212********0012"])
    name: str
    sex: Literal["male", "female"]
    birth_on: dt.date
    age: int
    relationship: Relationship
    residence: Residence
    labour_capacity: LabourCapacity
    disability_grade: int | None
    disability_kind: DisabilityKind | None
    schooling: Schooling
    full_time_student: bool
    lives_together: bool
    legal_duty_of_support: bool
    exclusion: Exclusion | None
    parents: Parents
    in_institution: bool
    counted: bool = Field(description="Counts as a member of the household today (共同生活的家庭成员)")
    membership_basis: str = Field(description="Why the person counts or not")


class HouseholdOut(AddressOut):
    id: int
    members: list[MemberOut]
    counted_members: int
    created_at: dt.datetime
