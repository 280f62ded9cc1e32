"""Demo data: a few Ningbo social organisations, and one project of 宁波市慈善总会 in fundraising with a few
donations, a payment and a disclosure. Loading twice adds nothing (organisations keyed by credit code, the
project by organisation and title, donations by channel transaction).

The names are of the kind found in Ningbo's register; the credit codes are made up for the demo, with
check characters computed by python-stdnum, and are not the organisations' real codes.
"""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations import service as donations
from services.charity.donations.models import Donation
from services.charity.donations.schemas import DisbursementIn, DonationIn, DonorIn, EvidenceIn
from services.charity.organizations.models import Organization
from services.charity.organizations.service import parse_credit_code
from services.charity.projects import service as projects
from services.charity.projects.models import Project
from services.charity.projects.schemas import BudgetLineIn, DisclosureIn, FilingIn, ProjectIn
from services.charity.scopes import PROJECTS_WRITE
from shared import clock
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.demo_city import demo_address
from shared.divisions import division_code
from shared.identity import Principal

ORGANIZATIONS = [
    dict(
        name="宁波市慈善总会",
        place=demo_address("海曙区解放南路100号"),
        unified_social_credit_code="51330200MJ1234567X",
        registered_on=dt.date(1995, 3, 18),
        district_code=CITY_CODE,
        is_charity=True,
        recognised_on=dt.date(2016, 12, 20),
        evaluation_grade="5A",
        fundraising_qualified_on=dt.date(2017, 3, 1),
        contact_name="陈敏",
        contact_phone="13805740001",
    ),
    dict(
        name="宁波市善园公益基金会",
        place=demo_address("江北区大庆南路132号"),
        unified_social_credit_code="53330200MJ9000001T",
        registered_on=dt.date(2014, 6, 5),
        district_code=CITY_CODE,
        is_charity=True,
        recognised_on=dt.date(2017, 5, 10),
        evaluation_grade="4A",
        fundraising_qualified_on=None,
        contact_name="张晓燕",
        contact_phone="13905740002",
    ),
    dict(
        name="鄞州区邻里守望社会工作服务中心",
        place=demo_address("鄞州区百丈东路366号"),
        unified_social_credit_code="52330212MJ8712345X",
        registered_on=dt.date(2019, 9, 1),
        district_code=division_code("鄞州区"),
        is_charity=False,
        recognised_on=None,
        evaluation_grade="3A",
        fundraising_qualified_on=None,
        contact_name="李建国",
        contact_phone="13705740003",
    ),
    dict(
        name="余姚市阳光助残公益基金会",
        place=demo_address("余姚市阳明西路88号"),
        unified_social_credit_code="53330281MJ98765432",
        registered_on=dt.date(2021, 4, 12),
        district_code=division_code("余姚市"),
        is_charity=True,
        recognised_on=dt.date(2021, 4, 12),
        evaluation_grade=None,
        fundraising_qualified_on=None,
        contact_name="王丽",
        contact_phone="13605740004",
    ),
]


PROJECT_TITLE = "2026“情暖甬城”困难家庭冬季救助"
# The project goes through the service's own rules (filing clock, qualification, ledger), as a city clerk would.
SEED_CLERK = Principal(subject="seed", kind="staff", area=CITY_CODE, scopes=frozenset({PROJECTS_WRITE}))
DONATIONS = [  # channel transaction, amount in fen, donor, on the honour list
    ("seed-wx-0001", 50_000, DonorIn(kind="person", name="林晓", phone="13805740011"), True),
    ("seed-wx-0002", 2_000, DonorIn(kind="anonymous"), True),
    ("seed-ali-0003", 3_000, DonorIn(kind="person", name="郑海明", phone="13905740012"), False),
    (
        "seed-bank-0004",
        5_000_000,
        DonorIn(kind="company", name="宁波甬江电器有限公司", credit_code="91330212MA2AAAAA10"),
        True,
    ),
]


async def load(session: AsyncSession) -> int:
    created = 0
    for row in ORGANIZATIONS:
        code = parse_credit_code(row["unified_social_credit_code"])
        if await session.scalar(select(Organization.id).where(Organization.unified_social_credit_code == code)):
            continue
        # Its office at an address of the demo city: the columns of it the organisations' table has so far.
        values = {k: v for k, v in row.items() if k != "place"} | row["place"].columns(Organization)
        session.add(Organization(**values, registered_by="seed", created_at=utcnow()))
        created += 1
    await session.flush()
    return created + await _load_project(session)


async def _load_project(session: AsyncSession) -> int:
    org_id = await session.scalar(select(Organization.id).where(Organization.name == "宁波市慈善总会"))
    project = await session.scalar(
        select(Project).where(Project.organization_id == org_id, Project.title == PROJECT_TITLE)
    )
    created = 0
    if project is None:
        today = clock.today()
        project = await projects.create(
            session,
            SEED_CLERK,
            ProjectIn(
                organization_id=org_id,
                title=PROJECT_TITLE,
                summary="为全市困难家庭发放冬季生活物资和取暖补贴",
                beneficiaries="宁波市低保、低保边缘和特困家庭",
                beneficiary_count=2000,
                public_fundraising=True,
                target_fen=200_000_000,
                starts_on=today - dt.timedelta(days=30),
                ends_on=today + dt.timedelta(days=150),
                budget_lines=[
                    BudgetLineIn(name="取暖补贴", amount_fen=120_000_000),
                    BudgetLineIn(name="生活物资", amount_fen=70_000_000),
                    BudgetLineIn(name="项目执行", amount_fen=10_000_000),
                ],
            ),
            created_at=dt.datetime.combine(today - dt.timedelta(days=45), dt.time(), tzinfo=clock.SHANGHAI),
        )
        await projects.file(
            session,
            SEED_CLERK,
            project.id,
            FilingIn(filed_on=today - dt.timedelta(days=45), filing_number="53330200MJ1234567X-2026-001"),
        )
        await projects.start_fundraising(session, SEED_CLERK, project.id)
        await projects.disclose(
            session,
            SEED_CLERK,
            project.id,
            DisclosureIn(
                kind="plan", title="募捐方案", content="募捐期 180 天，目标 200 万元，资金用于取暖补贴和生活物资。"
            ),
        )
        created += 1
    for txn, amount, donor, honour in DONATIONS:
        if await session.scalar(select(Donation.id).where(Donation.channel_txn_id == txn)):
            continue
        channel = {"wx": "wechat", "ali": "alipay", "bank": "bank"}[txn.split("-")[1]]
        await donations.record(
            session,
            DonationIn(
                project_id=project.id,
                channel=channel,
                channel_txn_id=txn,
                amount_fen=amount,
                donor=donor,
                honour_opt_in=honour,
            ),
            by="seed",
        )
        created += 1
        if txn == "seed-bank-0004":  # the company's gift pays the first heating allowances
            line_id = (await projects.to_out(session, project)).budget_lines[0].id
            await donations.disburse(
                session,
                SEED_CLERK,
                DisbursementIn(
                    project_id=project.id,
                    budget_line_id=line_id,
                    payee_kind="beneficiary",
                    payee_name="首批受助家庭",
                    amount_fen=1_200_000,
                    purpose="首批 40 户取暖补贴",
                    evidence=[EvidenceIn(kind="sign_off", reference="QN-2026-0001", description="受助家庭签收表")],
                ),
            )
    await session.flush()
    return created
