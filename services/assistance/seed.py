"""Policy parameters of 2022 from the bureau's work plan, and assumed figures where it gives none.

Loading twice adds nothing (keyed by code, district and effective date). Every figure the plan gives is
quoted in its citation; anything the plan does not give (an effective date, a subsidy amount, an asset
limit) is marked `is_assumption` with a note saying what was assumed, to be replaced by the bureau's own.
"""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment.models import Income
from services.assistance.database import id_number_index
from services.assistance.households.models import Household, Member
from services.assistance.policies.models import PolicyVersion
from services.assistance.policies.schemas import CATALOGUE
from services.assistance.programmes import service as programmes
from shared import clock
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.demo_city import demo_address
from shared.idnumbers import parse_id_number
from shared.money import yuan_to_fen

PLAN = "《全市民政工作要点2022》（宁波市民政局，seed/000_39337c4199038810.txt）"
LINE_19 = f"{PLAN}第19行：“低保标准达到1.4万元/年”"
LINE_39_DIBAO = f"{PLAN}第39行：“全市低保标准达1100元/月以上”"
LINE_39_TEKUN = f"{PLAN}第39行：“特困供养标准达1870元/月以上”"
LINE_39_MARGINAL = f"{PLAN}第39行：“将低保边缘家庭人均月收入认定标准从最低生活保障标准的1.5倍放宽至2倍”"
LINE_47 = f"{PLAN}第47行：“全市集中供养孤儿养育标准达35000元以上、散居孤儿和困境儿童保障标准达29000元以上”"
LINE_49 = f"{PLAN}第49行：“修订出台*市困难残疾人生活补贴和重度残疾人护理补贴办法”（未给出金额）"

Y2021, Y2022 = dt.date(2021, 1, 1), dt.date(2022, 1, 1)
DATE_ASSUMED = (
    "The effective date is assumed: the plan sets the figure for 2022 but gives no date "
    "(1 January 2022 used; the copy of the plan is dated 2022-05-09, a publication date, not an "
    "effective one). The value itself is from the plan (a floor: “以上”). The plan gives no figure "
    "for 2021 or before, so there is no earlier version: a day before 2022 is not decided (422) "
    "until a cited version is added."
)
NO_SOURCE = "Assumed: no source gives this value; placeholder until the bureau's own figure is entered."

VERSIONS = [
    dict(code="dibao_standard", value=yuan_to_fen(1100), effective_on=Y2022, citation=LINE_39_DIBAO, note=DATE_ASSUMED),
    dict(
        code="dibao_standard_annual_target",
        value=yuan_to_fen(14000),
        effective_on=Y2022,
        citation=LINE_19,
        note=DATE_ASSUMED + " A target for the year; 1,100 yuan × 12 = 13,200 is below it.",
    ),
    # The history the plan gives: 1.5× before its 2022 change, 2× after. The plan names the 2021 rule but no
    # 2021 低保 standard, so a day of 2021 still cannot be decided until a cited standard is added.
    dict(
        code="dibao_marginal_multiplier",
        value=1500,
        effective_on=Y2021,
        citation=LINE_39_MARGINAL,
        note="The 1.5× in force before the 2022 change. The plan gives no date for either rule: this history "
        "begins on 1 January 2021 (assumed), and the change is taken as 1 January 2022 (assumed).",
    ),
    dict(
        code="dibao_marginal_multiplier", value=2000, effective_on=Y2022, citation=LINE_39_MARGINAL, note=DATE_ASSUMED
    ),
    dict(
        code="tekun_support_standard",
        value=yuan_to_fen(1870),
        effective_on=Y2022,
        citation=LINE_39_TEKUN,
        note=DATE_ASSUMED,
    ),
    dict(
        code="orphan_institution_standard",
        value=yuan_to_fen(35000),
        effective_on=Y2022,
        citation=LINE_47,
        note=DATE_ASSUMED,
    ),
    dict(
        code="orphan_scattered_standard",
        value=yuan_to_fen(29000),
        effective_on=Y2022,
        citation=LINE_47,
        note=DATE_ASSUMED,
    ),
    dict(
        code="children_in_difficulty_standard",
        value=yuan_to_fen(29000),
        effective_on=Y2022,
        citation=LINE_47,
        note=DATE_ASSUMED,
    ),
    dict(
        code="disability_living_subsidy",
        value=yuan_to_fen(330),
        effective_on=Y2022,
        citation=LINE_49,
        note=NO_SOURCE + " 330 yuan/month = 30% of the 1,100 yuan 低保标准.",
    ),
    dict(
        code="disability_care_subsidy",
        value=yuan_to_fen(330),
        effective_on=Y2022,
        citation=LINE_49,
        note=NO_SOURCE + " 330 yuan/month = 30% of the 1,100 yuan 低保标准.",
    ),
    # No asset limits (dibao_financial_assets_limit, dibao_vehicle_value_limit): the plan (第39行) announces a new
    # 家庭经济状况认定 policy but gives no limit, and an invented one would decide who is eligible. Until the
    # bureau adds cited versions, the asset criteria say that no limit was applied (eligibility/rules.py).
    # No source gives an amount, so the neutral default is none: an invented deduction would change who is
    # eligible (300 yuan made a household above the 低保边缘 limit eligible). A district that has a cited figure
    # adds its own version (POST /policies with its district code and the citation).
    dict(
        code="employment_cost_deduction",
        value=0,
        effective_on=Y2022,
        citation="民发〔2021〕57号第十一条：“就业成本”可从工资性收入中扣减；《全市民政工作要点2022》未给出金额",
        note="Assumed: no source gives an amount, so no deduction (0), the neutral default; a district with a "
        "cited figure adds its own version.",
    ),
    dict(
        code="dibao_grant_rounding",
        value=1,
        effective_on=Y2022,
        citation="No source: the plan does not say how the 低保金 is rounded",
        note="Assumed: no source says how the grant is rounded, so it is not (1 fen), the neutral default; a "
        "cited rule (e.g. up to whole yuan, 100) is added as a new version.",
    ),
    # The assessment period (家庭收入计算期): no source gives it. One month, the last month before the day asked about,
    # is the neutral reading: the income counted is what the household received in that month, as recorded, with
    # nothing averaged in from months before (an income that ended, a job lost) and nothing rounded; before this
    # parameter, every income ever recorded counted, however long ago it ended. A district with a cited rule
    # (申请前6个月, 12个月) adds its own version, and the check averages over it (eligibility/rules.py, docs/rules.md).
    dict(
        code="income_assessment_months",
        value=1,
        effective_on=Y2022,
        citation="民发〔2021〕57号：家庭收入为共同生活的家庭成员“在规定期限内”获得的收入，期限由各地规定；"
        "《全市民政工作要点2022》未给出",
        note="Assumed: no source gives the period, so one month (the last whole month before the day asked about), "
        "the neutral default: the incomes that cover that month count at their monthly figure, none that ended "
        "before it, nothing averaged or rounded. A cited period (e.g. the 12 months before the application) is "
        "added as a new version, city-wide or for a district.",
    ),
    # 支出型 (expenditure-type) hardship: the plan (第35-39行) asks for 精准救助 and wider 准入条件 but names no
    # rule for rigid medical expenses; both parameters are assumptions, to be replaced by the bureau's figures.
    dict(
        code="expenditure_medical_share",
        value=500,
        effective_on=Y2022,
        citation=f"{PLAN}第39行：“适度放宽社会救助准入条件”（未给出支出型认定规则）",
        note=NO_SOURCE + " Rigid medical expenses (out of pocket, averaged over the past 12 months) of at least "
        "half (500‰) of the household's counted monthly income.",
    ),
    dict(
        code="expenditure_income_multiplier",
        value=1000,
        effective_on=Y2022,
        citation=f"{PLAN}第39行：“适度放宽社会救助准入条件”（未给出支出型认定规则）",
        note=NO_SOURCE + " After deducting those expenses, the per-capita income is below 1× (1000‰) the 低保 "
        "standard.",
    ),
]


async def load(session: AsyncSession) -> int:
    """Policy parameters, then the demo households; returns the number of new rows of both."""
    return await load_policies(session) + await load_demo_households(session)


async def load_policies(session: AsyncSession) -> int:
    created = 0
    for row in VERSIONS:
        exists = await session.scalar(
            select(PolicyVersion.id).where(
                PolicyVersion.code == row["code"],
                PolicyVersion.district_code == CITY_CODE,
                PolicyVersion.effective_on == row["effective_on"],
            )
        )
        if exists is not None:
            continue
        session.add(
            PolicyVersion(
                **row,
                district_code=CITY_CODE,
                unit=CATALOGUE[row["code"]].unit,
                is_assumption=True,
                created_by="seed",
                created_at=utcnow(),
            )
        )
        created += 1
    await session.flush()
    return created


# Two of eldercare's demo elders (services/eldercare/seed.py) receive assistance, so the suite's demo shows
# subsidised meal prices: 王阿娣 lives alone on a small pension (低保: 1,100 − 800 = 300 yuan a month) and
# 陈根发, 74, has no income and no one to support him (特困). The other demo elders receive nothing.
# They live at addresses of the demo city (shared/demo_city.py), in 中山社区 of 鼓楼街道 and 潜龙社区 of 百丈街道: the
# area of each household is its address's community, as placenames' registry has it.
DEMO_HOUSEHOLDS = [
    dict(
        id_number="330203194503150022",
        name="王阿娣",
        programme="dibao",
        place=demo_address("海曙区中山西路12号3幢201室"),  # 中山社区, 鼓楼街道
        since_on=dt.date(2022, 3, 1),
        pension_fen=yuan_to_fen(800),
        monthly_fen=yuan_to_fen(300),
    ),
    dict(
        id_number="330212195207080032",
        name="陈根发",
        programme="tekun",
        place=demo_address("鄞州区百丈东路358弄5号"),  # 潜龙社区, 百丈街道
        since_on=dt.date(2021, 7, 1),
        pension_fen=0,
        monthly_fen=yuan_to_fen(1870),
    ),
]


async def load_demo_households(session: AsyncSession) -> int:
    created = 0
    for row in DEMO_HOUSEHOLDS:
        person = parse_id_number(row["id_number"])
        known = select(Member.id).where(Member.id_number_index == id_number_index(person.value))
        if await session.scalar(known) is not None:
            continue
        household = Household(**row["place"].columns(), created_by="seed", created_at=utcnow())
        session.add(household)
        await session.flush()
        member = Member(
            household_id=household.id,
            id_number=person.value,
            name=row["name"],
            birth_on=person.birth_date,
            sex=person.sex,
            relationship="applicant",
            residence="registered",
            labour_capacity="none",
            disability_grade=None,
            disability_kind=None,
            schooling="none",
            full_time_student=False,
            lives_together=True,
            legal_duty_of_support=False,
            exclusion=None,
            parents="present",
            in_institution=False,
            created_at=utcnow(),
        )
        session.add(member)
        await session.flush()
        if row["pension_fen"]:
            # The pension of the 12 months before the month the demo is loaded: the months an eligibility check
            # of today counts (the assessment period, `income_assessment_months`, is of months that have ended; a
            # pension recorded for 2021 alone no longer counted in 2022 and after, and the 300-yuan demo grant
            # became 1,100).
            this_month = clock.today().replace(day=1)
            session.add(
                Income(
                    household_id=household.id,
                    member_id=member.id,
                    kind="pension",
                    item="pension",
                    amount_fen=row["pension_fen"] * 12,
                    period_from=this_month.replace(year=this_month.year - 1),
                    months=12,
                    monthly_fen=row["pension_fen"],
                    exempt=False,
                    source_kind="department",
                    source_name="市人力社保局（演示数据）",
                    source_on=this_month,
                    recorded_by="seed",
                    recorded_at=utcnow(),
                )
            )
        await programmes.enrol(
            session,
            id_number=person.value,
            household_id=household.id,
            programme=row["programme"],
            since_on=row["since_on"],
            monthly_fen=row["monthly_fen"],
            basis="seed (demo data)",
        )
        created += 1
    await session.flush()
    return created
