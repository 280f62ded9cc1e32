"""Demo data: older people, canteens with menus for today and tomorrow, subsidy rates, two institutions with
beds, a home-visit catalogue, a provider and caregivers. Loading twice adds nothing (each row is keyed by a
natural key: the ID number's blind index, name, code or date)."""

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.beds.models import Bed, Institution
from services.eldercare.elders.models import Elder, ElderCarer, elder_id_number_index
from services.eldercare.homecare.models import Caregiver, HomeService, Provider, caregiver_id_number_index
from services.eldercare.meals.models import Canteen, MealSubsidyRate, Menu
from services.eldercare.meals.schemas import DEFAULT_CUTOFFS
from services.eldercare.meals.service import cutoff_instant, cutoff_minutes_of
from services.eldercare.subsidies.models import AllowanceRate
from shared import clock
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.demo import DEMO_RESIDENT_SUBJECT
from shared.demo_city import demo_address
from shared.divisions import division_code
from shared.idnumbers import parse_id_number

# The demo resident (the gateway's demo phone 13800000001, or its dev token) cares for 王阿娣 and 陈根发.
DEMO_RESIDENT = DEMO_RESIDENT_SUBJECT
# The subject earlier demo data gave them: a dev database seeded before keeps its care links, renamed.
FORMER_DEMO_RESIDENT = "resident:13800000001"
ASSUMED = "演示数据：金额为假设值，未取自正式文件 (demo figure, not taken from a published document)"

# Delivery and providers' areas by the names the division tree gives them, never by a code written here. Where
# people and places are: addresses of the demo city, which placenames' registry holds (shared/demo_city.py).
HAISHU, BAIZHANG = division_code("海曙区"), division_code("百丈街道")

ELDERS = [
    dict(
        id_number="330203194503150022",
        name="王阿娣",
        phone="13805740101",
        place=demo_address("海曙区中山西路12号3幢201室"),  # 中山社区, 鼓楼街道
        lives_alone=True,
        carers=[(DEMO_RESIDENT, "child")],
    ),
    dict(
        id_number="330212195207080032",
        name="陈根发",
        phone="13905740202",
        place=demo_address("鄞州区百丈东路358弄5号"),  # 潜龙社区, 百丈街道
        lives_alone=False,
        carers=[(DEMO_RESIDENT, "child")],
    ),
    dict(
        id_number="330212194001220031",
        name="李永康",
        phone=None,
        place=demo_address("鄞州区泰康中路388号"),  # 钟公庙街道
        lives_alone=True,
        carers=[],
    ),
    dict(
        id_number="330205195809110047",
        name="周秀英",
        phone="13705740404",
        place=demo_address("江北区中马路77号"),  # 外滩街道 (中马街道 until 2021, the code kept)
        lives_alone=False,
        carers=[],
    ),
]

# Suppliers first: the kitchen supplies the canteen and the point (中央厨房 → 老年食堂, 助餐点), named by `supplied_by`.
CANTEENS = [
    dict(
        name="鼓楼街道中央厨房",
        kind="central_kitchen",
        place=demo_address("海曙区中山西路20号"),  # 鼓楼街道
        delivery_area_codes=[HAISHU],
    ),
    dict(
        name="百丈街道老年食堂",
        kind="canteen",
        place=demo_address("鄞州区百丈东路360号"),  # 百丈街道
        delivery_area_codes=[BAIZHANG],
        supplied_by="鼓楼街道中央厨房",
    ),
    dict(
        name="中马街道槐树路助餐点",
        kind="meal_point",
        place=demo_address("江北区中马路70号"),  # 外滩街道
        delivery_area_codes=[],
        supplied_by="鼓楼街道中央厨房",
    ),
]
MENUS = {
    "breakfast": (["白粥", "馒头", "咸蛋"], 500, 40),
    "lunch": (["红烧带鱼", "青菜香干", "米饭", "紫菜汤"], 1500, 80),
    "dinner": (["肉末豆腐", "炒冬瓜", "米饭"], 1200, 60),
}
MEAL_RATES = [
    ("tekun", 1000),
    ("dibao", 800),
    ("dibao_marginal", 500),
    ("disability", 500),
    ("age_80_plus", 400),
    ("age_60_79", 200),
]
ALLOWANCES = [
    (tier, level, amount)
    for tier, base in (("tekun", 60000), ("dibao", 40000), ("dibao_marginal", 30000), ("age_80_plus", 20000))
    for level, amount in ((1, base // 2), (2, base), (3, base * 3 // 2), (4, base * 2))
]

INSTITUTIONS = [
    dict(
        name="鄞州区社会福利中心",
        ownership="public",
        star_rating=4,
        place=demo_address("鄞州区泰康中路500号"),  # 钟公庙街道
        beds=[("nursing", 12), ("dementia", 4), ("general", 4)],
    ),
    dict(
        name="海曙区颐乐园养老院",
        ownership="private",
        star_rating=3,
        place=demo_address("海曙区望京路88号"),  # 南门街道
        beds=[("nursing", 6), ("general", 6)],
    ),
]
SERVICES = [
    ("bathing", "助浴", "personal_care", 6000, 60),
    ("cleaning", "助洁", "home", 4000, 90),
    ("meal_delivery", "送餐", "meals", 500, 20),
    ("escort_hospital", "陪同就医", "health", 8000, 180),
]
CAREGIVERS = [
    ("330212198305060020", "胡美华", "senior", 720),
    ("330212197911110011", "郑国平", "intermediate", 365),
    ("330203198808080027", "陈丽", "junior", -30),
]  # days until expiry: the last one has expired


async def _get_or_add(session: AsyncSession, model, key: dict, **values):
    found = await session.scalar(select(model).filter_by(**key))
    if found is not None:
        return found, False
    row = model(**key, **values)
    session.add(row)
    await session.flush()
    return row, True


async def load(session: AsyncSession) -> int:
    created = 0
    now, today = utcnow(), clock.today()
    await session.execute(
        update(ElderCarer).where(ElderCarer.subject == FORMER_DEMO_RESIDENT).values(subject=DEMO_RESIDENT)
    )
    for row in ELDERS:
        id_number = parse_id_number(row["id_number"])
        values = {k: v for k, v in row.items() if k not in ("carers", "id_number", "place")}
        values |= row["place"].columns()
        elder, new = await _get_or_add(
            session,
            Elder,
            {"id_number_index": elder_id_number_index(id_number.value)},
            **values,
            id_number=id_number.value,
            sex=id_number.sex,
            birth_on=id_number.birth_date,
            emergency_contacts=[],
            registered_by="seed",
            created_at=now,
        )
        if new:
            session.add_all(ElderCarer(elder_id=elder.id, subject=s, relation=r) for s, r in row["carers"])
            created += 1
    for tier, amount in MEAL_RATES:
        created += (
            await _get_or_add(
                session,
                MealSubsidyRate,
                {"tier": tier, "district_code": CITY_CODE, "effective_on": dt.date(2022, 1, 1)},
                amount_fen=amount,
                citation=ASSUMED,
                is_assumption=True,
                created_by="seed",
                created_at=now,
            )
        )[1]
    for tier, level, amount in ALLOWANCES:
        created += (
            await _get_or_add(
                session,
                AllowanceRate,
                {"tier": tier, "level": level, "district_code": CITY_CODE, "effective_on": dt.date(2022, 1, 1)},
                amount_fen=amount,
                citation=ASSUMED,
                is_assumption=True,
                created_by="seed",
                created_at=now,
            )
        )[1]
    cutoffs = {meal: cutoff_minutes_of(c) for meal, c in DEFAULT_CUTOFFS.items()}
    canteens: dict[str, Canteen] = {}
    for row in CANTEENS:
        supplier = canteens.get(row.get("supplied_by", ""))
        canteen, new = await _get_or_add(
            session,
            Canteen,
            {"name": row["name"]},
            **{k: v for k, v in row.items() if k not in ("name", "supplied_by", "place")},
            **row["place"].columns(Canteen),
            supplied_by_id=supplier.id if supplier else None,
            supplier_kind=supplier.kind if supplier else None,
            cutoff_minutes=cutoffs,
            is_active=True,
            created_by="seed",
            created_at=now,
        )
        canteens[canteen.name] = canteen
        created += new
        for day in (today, today + dt.timedelta(days=1)):
            for meal, (dishes, price, capacity) in MENUS.items():
                created += (
                    await _get_or_add(
                        session,
                        Menu,
                        {"canteen_id": canteen.id, "served_on": day, "meal": meal},
                        dishes=dishes,
                        price_fen=price,
                        capacity=capacity,
                        remaining=capacity,
                        cutoff_at=cutoff_instant(day, cutoffs[meal]),
                        created_at=now,
                    )
                )[1]
    for row in INSTITUTIONS:
        institution, new = await _get_or_add(
            session,
            Institution,
            {"name": row["name"]},
            **{k: v for k, v in row.items() if k not in ("name", "beds", "place")},
            **row["place"].columns(Institution),
            created_by="seed",
            created_at=now,
        )
        created += new
        for bed_type, count in row["beds"]:
            for n in range(1, count + 1):
                created += (
                    await _get_or_add(
                        session,
                        Bed,
                        {"institution_id": institution.id, "label": f"{bed_type[:1].upper()}-{n:03d}"},
                        bed_type=bed_type,
                        in_service=True,
                        created_at=now,
                    )
                )[1]
    for code, name, category, price, minutes in SERVICES:
        created += (
            await _get_or_add(
                session,
                HomeService,
                {"code": code},
                name=name,
                category=category,
                price_fen=price,
                duration_minutes=minutes,
                is_active=True,
                created_at=now,
            )
        )[1]
    provider, new = await _get_or_add(
        session,
        Provider,
        {"credit_code": "91330212MA2H00001X"},
        name="鄞州颐乐居家养老服务中心",
        **demo_address("鄞州区百丈东路362号").columns(Provider),  # the caregivers' base, in 百丈街道
        phone="13600574001",
        created_by="seed",
        created_at=now,
    )
    created += new
    for number, name, level, days in CAREGIVERS:
        number = parse_id_number(number).value
        created += (
            await _get_or_add(
                session,
                Caregiver,
                {"id_number_index": caregiver_id_number_index(number)},
                id_number=number,
                provider_id=provider.id,
                name=name,
                phone=None,
                certificate_no=f"NB-{number[-6:]}",
                certificate_level=level,
                certificate_expires_on=today + dt.timedelta(days=days),
                is_active=True,
                created_at=now,
            )
        )[1]
    return created
