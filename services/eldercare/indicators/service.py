"""Indicators of the 2022 plan (民政数字驾驶舱): counts from this service's own data, each with the plan's target.

Targets, from the bureau's 2022 work plan: 标准化老年食堂 150 (new), 养老床位 +4,000, 护理型床位占比 ≥ 60%,
认知障碍照护床位 +960, 家庭养老床位 800 (pilot), 每万名老年人持证护理员 ≥ 27. "New" targets are compared here
with everything registered, which overstates progress until a baseline date is recorded (stated per item).
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.beds.models import Bed, Institution
from services.eldercare.elders.models import Elder
from services.eldercare.familybeds.models import FamilyBed
from services.eldercare.homecare.models import Caregiver, Provider, Visit
from services.eldercare.meals.models import Canteen, MealOrder, Menu
from shared.areas import within_area
from shared.schemas import Schema

PLAN = "宁波市民政局2022年工作要点"


class Indicator(Schema):
    code: str
    label: str
    value: float | int | dict[str, int]
    unit: str
    target: float | int | None = None
    target_kind: str | None = Field(None, description="at_least, or new_in_year (compared with all registered)")
    meets_target: bool | None = None
    note: str | None = None


class Indicators(Schema):
    area_code: str
    as_of: dt.date
    source_of_targets: str = PLAN
    items: list[Indicator]


async def _count(session: AsyncSession, query) -> int:
    return int(await session.scalar(query) or 0)


async def compute(session: AsyncSession, *, area_code: str, day: dt.date) -> Indicators:
    kinds = dict((await session.execute(select(Canteen.kind, func.count()).where(
        Canteen.is_active.is_(True), within_area(Canteen.area_code, area_code)).group_by(Canteen.kind))).all())
    canteens = {k: int(kinds.get(k, 0)) for k in ("central_kitchen", "canteen", "meal_point")}
    meals = await _count(session, select(func.sum(MealOrder.quantity)).join(Menu, Menu.id == MealOrder.menu_id)
                         .join(Canteen, Canteen.id == Menu.canteen_id)
                         .where(MealOrder.status == "placed", Menu.served_on == day,
                                within_area(Canteen.area_code, area_code)))
    by_type = dict((await session.execute(select(Bed.bed_type, func.count()).join(
        Institution, Institution.id == Bed.institution_id).where(
        Bed.in_service.is_(True), within_area(Institution.area_code, area_code)).group_by(Bed.bed_type))).all())
    beds = {k: int(by_type.get(k, 0)) for k in ("general", "nursing", "dementia")}
    total_beds = sum(beds.values())
    nursing_share = round(beds["nursing"] / total_beds, 4) if total_beds else 0.0
    elders_in_area = within_area(Elder.area_code, area_code)
    family_beds = await _count(session, select(func.count()).select_from(FamilyBed).join(
        Elder, Elder.id == FamilyBed.elder_id).where(FamilyBed.status == "active", elders_in_area))
    elders = await _count(session, select(func.count()).select_from(Elder).where(elders_in_area))
    certified = await _count(session, select(func.count()).select_from(Caregiver).join(
        Provider, Provider.id == Caregiver.provider_id).where(
        Caregiver.is_active.is_(True), Caregiver.certificate_expires_on >= day,
        within_area(Provider.area_code, area_code)))
    per_10k = round(certified * 10_000 / elders, 2) if elders else 0.0
    visit_counts = dict((await session.execute(select(Visit.status, func.count()).join(
        Elder, Elder.id == Visit.elder_id).where(Visit.status.in_(("verified", "flagged", "missed")),
                                                 elders_in_area).group_by(Visit.status))).all())
    new_note = "target is for new ones in 2022; the value counts all registered"
    return Indicators(area_code=area_code, as_of=day, items=[
        Indicator(code="canteens_by_kind", label="助餐服务点（按类型）", value=canteens, unit="count",
                  note="every level of the meal network; the plan's target counts 老年食堂 only: standardised_canteens"),
        # The plan counts each level on its own: its 150 are 标准化老年食堂, not the kitchens or the points they supply.
        Indicator(code="standardised_canteens", label="标准化老年食堂", value=canteens["canteen"], unit="count",
                  target=150, target_kind="new_in_year", meets_target=canteens["canteen"] >= 150,
                  note="target: 150 new standardised canteens (标准化老年食堂); " + new_note),
        Indicator(code="meal_points", label="助餐点", value=canteens["meal_point"], unit="count",
                  note="meal points served by a kitchen or canteen; no target of their own in the plan"),
        Indicator(code="central_kitchens", label="中央厨房", value=canteens["central_kitchen"], unit="count",
                  note="no target of their own in the plan"),
        Indicator(code="meals_served", label="当日助餐份数", value=meals, unit="portions",
                  note=f"portions ordered and not cancelled for {day.isoformat()}"),
        Indicator(code="beds_by_type", label="养老机构床位（按类型）", value=beds, unit="count", target=4000,
                  target_kind="new_in_year", meets_target=total_beds >= 4000, note="target: +4,000 beds; " + new_note),
        Indicator(code="nursing_bed_share", label="护理型床位占比", value=nursing_share, unit="ratio", target=0.6,
                  target_kind="at_least", meets_target=total_beds > 0 and nursing_share >= 0.6),
        Indicator(code="dementia_beds", label="认知障碍照护床位", value=beds["dementia"], unit="count", target=960,
                  target_kind="new_in_year", meets_target=beds["dementia"] >= 960, note="target: +960; " + new_note),
        Indicator(code="family_beds", label="家庭养老床位", value=family_beds, unit="count", target=800,
                  target_kind="at_least", meets_target=family_beds >= 800, note="active family care beds"),
        Indicator(code="certified_caregivers_per_10k", label="每万名老年人持证护理员", value=per_10k,
                  unit="per 10,000 older people", target=27, target_kind="at_least", meets_target=per_10k >= 27,
                  note=f"{certified} caregivers with a valid certificate / {elders} older people registered in this "
                       "service (not the census population)"),
        Indicator(code="visits", label="上门服务（已核验/已标记/漏服务）", unit="count",
                  value={s: int(visit_counts.get(s, 0)) for s in ("verified", "flagged", "missed")}),
    ])
