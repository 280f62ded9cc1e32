import datetime as dt
from typing import Literal, get_args

from pydantic import ConfigDict, Field

from services.assistance.applications.schemas import State
from shared.programmes import ProgrammeCode
from shared.schemas import MAX_INTEGER, Schema

# What a resident may apply for from the mini-program; the children's programmes (孤儿, 困境儿童) start with the
# community or a guardian at the counter.
OnlineProgramme = Literal["dibao", "dibao_marginal", "tekun", "disability_living_subsidy", "disability_care_subsidy"]
ONLINE_PROGRAMMES: tuple[str, ...] = get_args(OnlineProgramme)

# The partner departments' records a consent may cover (家庭经济状况核对的数据来源).
PartnerCheck = Literal[
    "household_registration",  # 公安：户籍
    "social_insurance",  # 人力社保：工资、养老金、失业金
    "tax",  # 税务：个人所得税
    "real_estate",  # 自然资源和规划：不动产登记
    "vehicles",  # 公安：机动车登记
    "business_registration",  # 市场监管：经营主体登记
    "housing_fund",  # 住房公积金
    "deposits",  # 银行：存款
    "securities",  # 证券：有价证券
    "disability_records",  # 残联：残疾人证
]
MaterialKind = Literal[
    "id_card", "household_register", "income_proof", "disability_certificate", "medical_records", "other"
]
ContentType = Literal["image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"]


class ConsentIn(Schema):
    """授权核对: the resident agrees that the bureau checks the household's facts against these departments."""

    model_config = ConfigDict(extra="forbid")
    agreed: Literal[True] = Field(description="Must be true: no application goes on without the consent")
    checks: list[PartnerCheck] = Field(
        min_length=1,
        max_length=10,
        description="The partner checks agreed to. 低保, 低保边缘 and 特困 need every economic check (户籍, 社保, 税务, "
        "不动产, 车辆, 经营主体, 公积金, 存款, 证券); the disability subsidies need 户籍 and 残联 records; "
        "a 422 names those missing",
    )


class OnlineApplicationIn(Schema):
    """An application from the mini-program for a household the resident declared."""

    model_config = ConfigDict(extra="forbid")
    household_id: int = Field(
        ge=1, le=MAX_INTEGER, description="A household you declared (`POST /declared-households`)"
    )
    programme: OnlineProgramme = Field(
        description="低保 dibao, 低保边缘 dibao_marginal, 特困 tekun, or a disability subsidy (困难残疾人生活补贴 "
        "disability_living_subsidy, 重度残疾人护理补贴 disability_care_subsidy)"
    )
    member_id: int | None = Field(
        None,
        ge=1,
        le=MAX_INTEGER,
        description="The member it is for: required for 特困 and the disability subsidies, absent for 低保 and 低保边缘",
    )
    consent: ConsentIn


class ConsentOut(Schema):
    given_by: str
    given_at: dt.datetime
    checks: list[PartnerCheck]
    wording_version: str = Field(description="The version of the consent text agreed to")


class StepOut(Schema):
    """One step of the application as its applicant sees it: when, and the reasons given (no staff names, no
    objections' texts, no home visit notes)."""

    step: str = Field(
        description="accept 受理, investigate 入户调查, preliminary_review 初审, public_notice 公示, objection 异议, "
        "decide 审核确认, request_materials 补充材料, answer_materials 已补充"
    )
    at: dt.datetime
    passed: bool | None = Field(None, description="For 初审 and 审核确认: whether it passed")
    reasons: str | None = Field(None, description="The reasons given at this step, if any")
    note: str | None = Field(None, description="For 补充材料: what is needed")


class MaterialRequestOut(Schema):
    id: int
    application_id: int
    note: str = Field(description="What is needed")
    requested_at: dt.datetime
    open: bool = Field(description="Waiting for the applicant's answer")
    answered_at: dt.datetime | None
    answer_note: str | None


class MaterialOut(Schema):
    id: int
    application_id: int
    request_id: int | None = Field(description="The request for more materials it answers, if any")
    kind: MaterialKind
    content_type: ContentType = Field(description="What the bytes are (sniffed), whatever the file's name said")
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the content, hex")
    original_name: str
    uploaded_at: dt.datetime


class OnlineApplicationOut(Schema):
    """An application as its applicant follows it on the phone."""

    id: int
    household_id: int
    member_id: int | None
    programme: ProgrammeCode
    state: State = Field(
        description="accepted 已受理, investigated 已入户调查, reviewed 已初审, publicised 公示中, approved 已批准, "
        "rejected 未批准"
    )
    materials_requested: bool = Field(description="Staff asked for more materials and wait for them (补充材料)")
    open_material_request: MaterialRequestOut | None = Field(description="What staff asked for, while it is open")
    reasons: str | None = Field(description="The reasons of the decision (or of a failed 初审)")
    notice_starts_on: dt.date | None
    notice_ends_on: dt.date | None
    monthly_grant_fen: int | None = Field(description="The monthly grant, once approved")
    review_due_on: dt.date | None = Field(description="The next periodic review (定期复核), once approved")
    steps: list[StepOut]
    materials: list[MaterialOut]
    consent: ConsentOut
    created_at: dt.datetime
    updated_at: dt.datetime


class MaterialRequestIn(Schema):
    """Staff ask the applicant for more materials."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(
        min_length=2, max_length=500, description="What is needed, plainly", examples=["请补充户口簿首页和本人页照片"]
    )


class MaterialAnswerIn(Schema):
    """The applicant says the requested materials are uploaded."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=500, description="Anything the applicant wants staff to know")


class StaffMaterialRequestOut(MaterialRequestOut):
    requested_by: str
    answered_by: str | None
