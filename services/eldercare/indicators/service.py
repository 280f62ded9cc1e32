"""Indicators of the 2022 plan (民政数字驾驶舱): counts from this service's own data, each with the plan's target.

Targets, from the bureau's 2022 work plan: 标准化老年食堂 150 (new), 养老床位 +4,000, 护理型床位占比 ≥ 60%,
认知障碍照护床位 +960, 家庭养老床位 800 (pilot), 每万名老年人持证护理员 ≥ 27. "New" targets are compared here
with everything registered, which overstates progress until a baseline date is recorded (`new_in_year`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.beds.models import Bed, Institution
from services.eldercare.elders.models import Elder
from services.eldercare.familybeds.models import FamilyBed
from services.eldercare.homecare.models import Caregiver, Provider, Visit
from services.eldercare.meals.models import Canteen, MealOrder, Menu
from shared.areas import within_area
from shared.indicators import Figures, Indicators, target

CANTEEN_KINDS = ("central_kitchen", "canteen", "meal_point")
BED_TYPES = ("general", "nursing", "dementia")
VISIT_STATUSES = ("verified", "flagged", "missed")


async def _count(session: AsyncSession, query) -> int:
    return int(await session.scalar(query) or 0)


async def compute(session: AsyncSession, *, area_code: str, day: dt.date) -> Indicators:
    kinds = dict(
        (
            await session.execute(
                select(Canteen.kind, func.count())
                .where(Canteen.is_active.is_(True), within_area(Canteen.area_code, area_code))
                .group_by(Canteen.kind)
            )
        ).all()
    )
    canteens = {k: int(kinds.get(k, 0)) for k in CANTEEN_KINDS}
    meals = await _count(
        session,
        select(func.sum(MealOrder.quantity))
        .join(Menu, Menu.id == MealOrder.menu_id)
        .join(Canteen, Canteen.id == Menu.canteen_id)
        .where(MealOrder.status == "placed", Menu.served_on == day, within_area(Canteen.area_code, area_code)),
    )
    by_type = dict(
        (
            await session.execute(
                select(Bed.bed_type, func.count())
                .join(Institution, Institution.id == Bed.institution_id)
                .where(Bed.in_service.is_(True), within_area(Institution.area_code, area_code))
                .group_by(Bed.bed_type)
            )
        ).all()
    )
    beds = {k: int(by_type.get(k, 0)) for k in BED_TYPES}
    total_beds = sum(beds.values())
    nursing_share = round(beds["nursing"] / total_beds, 4) if total_beds else 0.0
    elders_in_area = within_area(Elder.area_code, area_code)
    family_beds = await _count(
        session,
        select(func.count())
        .select_from(FamilyBed)
        .join(Elder, Elder.id == FamilyBed.elder_id)
        .where(FamilyBed.status == "active", elders_in_area),
    )
    elders = await _count(session, select(func.count()).select_from(Elder).where(elders_in_area))
    certified = await _count(
        session,
        select(func.count())
        .select_from(Caregiver)
        .join(Provider, Provider.id == Caregiver.provider_id)
        .where(
            Caregiver.is_active.is_(True),
            Caregiver.certificate_expires_on >= day,
            within_area(Provider.area_code, area_code),
        ),
    )
    per_10k = round(certified * 10_000 / elders, 2) if elders else 0.0
    visit_counts = dict(
        (
            await session.execute(
                select(Visit.status, func.count())
                .join(Elder, Elder.id == Visit.elder_id)
                .where(Visit.status.in_(VISIT_STATUSES), elders_in_area)
                .group_by(Visit.status)
            )
        ).all()
    )

    figures = Figures(area_code, day)
    # Each level of the meal network on its own: the plan's 150 are 标准化老年食堂, not the kitchens or the points
    # they supply, and no total of the levels is given.
    for kind, count in canteens.items():
        figures.add(
            "canteens",
            count,
            "count",
            kind=kind,
            target=target(
                150, count, scope="city", new_in_year=True, note="150 new standardised canteens (标准化老年食堂)"
            )
            if kind == "canteen"
            else None,
        )
    figures.add("meals_served", meals, "count", note=f"portions ordered and not cancelled for {day.isoformat()}")
    figures.add(
        "beds",
        total_beds,
        "count",
        note="beds in service in institutions",
        target=target(4000, total_beds, scope="city", new_in_year=True, note="+4,000 beds"),
    )
    for bed_type, count in beds.items():
        figures.add(
            "beds",
            count,
            "count",
            bed_type=bed_type,
            target=target(960, count, scope="city", new_in_year=True, note="+960 dementia-care beds (认知障碍照护床位)")
            if bed_type == "dementia"
            else None,
        )
    figures.add(
        "nursing_bed_share",
        nursing_share,
        "ratio",
        note="nursing-type beds (护理型) / beds in service",
        target=target(0.6, nursing_share, scope="area", met=total_beds > 0 and nursing_share >= 0.6),
    )
    figures.add(
        "family_beds",
        family_beds,
        "count",
        note="active family care beds",
        target=target(800, family_beds, scope="city"),
    )
    figures.add(
        "certified_caregivers_per_10k",
        per_10k,
        "per_10k",
        target=target(27, per_10k, scope="area"),
        note=f"{certified} caregivers with a valid certificate / {elders} older people registered in this "
        "service (not the census population)",
    )
    for status in VISIT_STATUSES:
        figures.add("visits", int(visit_counts.get(status, 0)), "count", status=status)
    return figures.answer()
