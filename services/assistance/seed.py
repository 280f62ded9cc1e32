"""Policy parameters of 2022 from the bureau's work plan, and assumed figures where it gives none.

Loading twice adds nothing (keyed by code, district and effective date). Every figure the plan gives is
quoted in its citation; anything the plan does not give (an effective date, a subsidy amount, an asset
limit) is marked `is_assumption` with a note saying what was assumed, to be replaced by the bureau's own.
"""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.policies.models import PolicyVersion
from services.assistance.policies.schemas import CATALOGUE, CITY_CODE
from shared.db import utcnow
from shared.money import yuan_to_fen

PLAN = "《全市民政工作要点2022》（宁波市民政局，seed/000_39337c4199038810.txt）"
LINE_19 = f"{PLAN}第19行：“低保标准达到1.4万元/年”"
LINE_39_DIBAO = f"{PLAN}第39行：“全市低保标准达1100元/月以上”"
LINE_39_TEKUN = f"{PLAN}第39行：“特困供养标准达1870元/月以上”"
LINE_39_MARGINAL = (f"{PLAN}第39行：“将低保边缘家庭人均月收入认定标准从最低生活保障标准的1.5倍放宽至2倍”")
LINE_47 = f"{PLAN}第47行：“全市集中供养孤儿养育标准达35000元以上、散居孤儿和困境儿童保障标准达29000元以上”"
LINE_49 = f"{PLAN}第49行：“修订出台*市困难残疾人生活补贴和重度残疾人护理补贴办法”（未给出金额）"

Y2022 = dt.date(2022, 1, 1)
DATE_ASSUMED = ("The effective date is assumed: the plan sets the figure for 2022 but gives no date "
                "(1 January 2022 used). The value itself is from the plan (a floor: “以上”).")
NO_SOURCE = "Assumed: no source gives this value; placeholder until the bureau's own figure is entered."

VERSIONS = [
    dict(code="dibao_standard", value=yuan_to_fen(1100), effective_on=Y2022, citation=LINE_39_DIBAO,
         note=DATE_ASSUMED),
    dict(code="dibao_standard_annual_target", value=yuan_to_fen(14000), effective_on=Y2022, citation=LINE_19,
         note=DATE_ASSUMED + " A target for the year; 1,100 yuan × 12 = 13,200 is below it."),
    dict(code="dibao_marginal_multiplier", value=1500, effective_on=dt.date(2020, 1, 1), citation=LINE_39_MARGINAL,
         note="The 1.5× before the 2022 change. The effective date is assumed (1 January 2020): the plan gives "
              "none for the earlier rule."),
    dict(code="dibao_marginal_multiplier", value=2000, effective_on=Y2022, citation=LINE_39_MARGINAL,
         note=DATE_ASSUMED),
    dict(code="tekun_support_standard", value=yuan_to_fen(1870), effective_on=Y2022, citation=LINE_39_TEKUN,
         note=DATE_ASSUMED),
    dict(code="orphan_institution_standard", value=yuan_to_fen(35000), effective_on=Y2022, citation=LINE_47,
         note=DATE_ASSUMED),
    dict(code="orphan_scattered_standard", value=yuan_to_fen(29000), effective_on=Y2022, citation=LINE_47,
         note=DATE_ASSUMED),
    dict(code="children_in_difficulty_standard", value=yuan_to_fen(29000), effective_on=Y2022, citation=LINE_47,
         note=DATE_ASSUMED),
    dict(code="disability_living_subsidy", value=yuan_to_fen(330), effective_on=Y2022, citation=LINE_49,
         note=NO_SOURCE + " 330 yuan/month = 30% of the 1,100 yuan 低保标准."),
    dict(code="disability_care_subsidy", value=yuan_to_fen(330), effective_on=Y2022, citation=LINE_49,
         note=NO_SOURCE + " 330 yuan/month = 30% of the 1,100 yuan 低保标准."),
    dict(code="dibao_financial_assets_limit", value=yuan_to_fen(26400), effective_on=Y2022,
         citation=f"{PLAN}第39行提到修订“社会救助家庭经济状况认定”政策，但未给出资产上限",
         note=NO_SOURCE + " 26,400 yuan per person = 24 months of the 1,100 yuan standard."),
    dict(code="dibao_vehicle_value_limit", value=yuan_to_fen(50000), effective_on=Y2022,
         citation=f"{PLAN}第39行提到修订“社会救助家庭经济状况认定”政策，但未给出资产上限",
         note=NO_SOURCE),
]


async def load(session: AsyncSession) -> int:
    created = 0
    for row in VERSIONS:
        exists = await session.scalar(select(PolicyVersion.id).where(
            PolicyVersion.code == row["code"], PolicyVersion.district_code == CITY_CODE,
            PolicyVersion.effective_on == row["effective_on"]))
        if exists is not None:
            continue
        session.add(PolicyVersion(**row, district_code=CITY_CODE, unit=CATALOGUE[row["code"]].unit,
                                  is_assumption=True, created_by="seed", created_at=utcnow()))
        created += 1
    await session.flush()
    return created
