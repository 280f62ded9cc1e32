"""Name checks (地名规范性核验) for other agencies: is this name standard, and if not, its standard form and why.

Registered names answer from the register (an alias or an old name resolves to today's). An unregistered
name is checked against the rules of 《地名管理条例》 (2022) as commonly applied: no exaggerated words
(大、洋、怪、重: 国际, 世界, 环球, 中央, 皇家, …), a generic part (通名) that fits the kind, no name already
used for another place of the same kind in the city, no foreign-language name; and the nearest standard
names are offered: for a road, first those that sound the same or alike or are one character off, each with
its reason (the parser's misspelt-road speller), then those that begin the same.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.checks.schemas import NameCheckIn, NameCheckOut, StandardForm
from services.placenames.gazetteer import Gazetteer
from services.placenames.names.models import PlaceName
from services.placenames.names.service import resolve_chain

EXAGGERATED = (
    "国际",
    "世界",
    "环球",
    "全球",
    "中央",
    "中华",
    "宇宙",
    "皇家",
    "皇城",
    "帝王",
    "帝豪",
    "天下",
    "至尊",
    "巴黎",
    "曼哈顿",
    "威尼斯",
    "维多利亚",
    "罗马",
    "加州",
)
GENERIC = {
    "road": ("路", "大道", "街", "巷", "弄", "道"),
    "street": ("街", "大街", "路"),
    "lane": ("巷", "弄", "里"),
    "bridge": ("桥", "大桥"),
    "residential_area": (
        "小区",
        "花园",
        "花苑",
        "家园",
        "公寓",
        "新村",
        "苑",
        "园",
        "府",
        "庭",
        "居",
        "城",
        "湾",
        "坊",
    ),
    "building": ("大厦", "大楼", "中心", "广场", "楼", "馆", "座"),
}
LATIN = re.compile(r"[A-Za-z]{2,}")
ROAD_KINDS = ("road", "street", "lane", "bridge")


async def check(session: AsyncSession, gazetteer: Gazetteer, data: NameCheckIn) -> NameCheckOut:
    query = select(PlaceName).where(PlaceName.name == data.name).order_by(PlaceName.id)
    if data.kind:
        query = query.where(PlaceName.kind == data.kind)
    if data.district_code:
        query = query.where(PlaceName.district_code == data.district_code)
    registered = list(await session.scalars(query))
    reasons: list[str] = []
    forms: list[StandardForm] = []
    for name in registered:
        chain = await resolve_chain(session, name)
        today = chain[-1]
        if name.status == "standard":
            forms.append(StandardForm(id=name.id, name=name.name, kind=name.kind, district_code=name.district_code))
        elif today.status == "standard":
            forms.append(StandardForm(id=today.id, name=today.name, kind=today.kind, district_code=today.district_code))
            word = "an alias (别名)" if name.status == "alias" else "a former name (历史名称)"
            reasons.append(f"{name.name} is {word} in {name.district_code}; the standard name is {today.name}")
        else:
            reasons.append(f"{name.name} was retired (销名) in {name.district_code} and has no successor")
    if any(n.status == "standard" for n in registered):
        return NameCheckOut(
            name=data.name,
            status="standard",
            is_standard=True,
            standard_forms=forms,
            reasons=[f"{data.name} is a registered standard name", *reasons],
        )
    if registered:
        status = registered[0].status
        return NameCheckOut(name=data.name, status=status, is_standard=False, standard_forms=forms, reasons=reasons)
    # Not in the register: the naming rules, and the nearest standard names.
    if any(word in data.name for word in EXAGGERATED):
        reasons.append("contains an exaggerated or foreign-sounding word (夸大、洋化), which naming rules refuse")
    if LATIN.search(data.name):
        reasons.append("contains Latin letters: a standard Chinese place name is written in Chinese characters")
    if data.kind and not data.name.endswith(GENERIC[data.kind]):
        reasons.append(
            f"the generic part (通名) does not fit a {data.kind}: expected an ending such as "
            + "、".join(GENERIC[data.kind][:4])
        )
    # A road name that sounds like a recorded one, or is one character off it (中山西陆, 解方北路): those
    # first, each with its reason; then names that begin the same or differ by one typed character.
    if data.kind is None or data.kind in ROAD_KINDS:
        for g in gazetteer.road_speller.guesses(data.name, district=data.district_code):
            forms.append(
                StandardForm(
                    id=int(g.entry.standard_ref),
                    name=g.entry.standard_name,
                    kind=g.entry.kind,
                    district_code=g.entry.district,
                )
            )
            reasons.append(g.reason)
    same_spelling = [s for s in gazetteer.name_index.suggest(data.name, limit=10) if s.match in ("prefix", "typo")]
    listed = {(f.name, f.district_code) for f in forms}
    for s in same_spelling[:5]:
        if (s.entry.standard_name, s.entry.district) in listed:
            continue
        forms.append(
            StandardForm(
                id=int(s.entry.standard_ref) if s.entry.standard_ref.isdigit() else None,
                name=s.entry.standard_name,
                kind=s.entry.kind,
                district_code=s.entry.district,
            )
        )
    if forms:
        reasons.append("not registered; similar standard names are listed")
    else:
        reasons.append("not registered")
    return NameCheckOut(name=data.name, status="unregistered", is_standard=False, standard_forms=forms, reasons=reasons)
