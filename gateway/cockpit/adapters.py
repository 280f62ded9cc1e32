"""One small adapter per service: its `/indicators` (whatever its shape) → the cockpit's one shape.

Each adapter names the requests it needs (the first is the service's `/indicators`; later ones are optional
extras) and builds the panel's indicators and charts from the answers. A figure the service did not give
becomes an indicator that says so in words, never a zero. The plan's 2022 targets live here, once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from gateway.cockpit.schemas import Chart, Indicator, Series
from shared import clock

CITY_CODE = "330200"
DISTRICTS = {
    "330203": "海曙区", "330205": "江北区", "330206": "北仑区", "330211": "镇海区", "330212": "鄞州区",
    "330213": "奉化区", "330225": "象山县", "330226": "宁海县", "330281": "余姚市", "330282": "慈溪市",
}
MISSING = "服务未提供此指标"


def area_name(code: str) -> str:
    if code == CITY_CODE:
        return "宁波市（全市）"
    return DISTRICTS.get(code[:6], code) + ("" if len(code) == 6 else f"（{code}）")


@dataclass(frozen=True)
class Area:
    code: str  # 330200 for the city, else a district (or, for street staff, their street)

    @property
    def is_city(self) -> bool:
        return self.code == CITY_CODE

    @property
    def district(self) -> str | None:
        """The value of a service's `district` filter: none for the whole city."""
        return None if self.is_city else self.code


@dataclass(frozen=True)
class Fetch:
    path: str                       # below /api/<service>/v1
    params: dict[str, str] = field(default_factory=dict)


def pick(payload: Any, *paths: str) -> Any:
    """The first of the dotted `paths` present in `payload` (services name things their own way)."""
    for path in paths:
        node = payload
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                break
        else:
            return node
    return None


def number(payload: Any, *paths: str) -> float | int | None:
    """A figure at one of `paths`; a `{value, target, met}` object counts as its value."""
    node = pick(payload, *paths)
    if isinstance(node, dict):
        node = node.get("value")
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return node


def fen_to_yuan(fen: float | int | None) -> float | None:
    return None if fen is None else round(fen / 100, 2)


def indicator(area: Area, code: str, label: str, value: float | int | None, unit: str, *,
              target: float | int | None = None, rule: str = "at_least", target_scope: str = "city",
              note: str | None = None) -> Indicator:
    """One indicator with its progress: an absolute city target has no progress in a district's view."""
    if value is None:
        return Indicator(code=code, label=label, value=None, unit=unit, target=target,
                         target_rule=rule if target is not None else None,
                         target_scope=target_scope if target is not None else None, available=False,
                         note=note or MISSING)
    met = progress = None
    if target is not None and (target_scope == "area" or area.is_city):
        met = value > target if rule == "more_than" else value >= target
        progress = round(min(value / target, 1.0), 4) if target else None
    elif target is not None:
        note = "；".join(filter(None, ["区县未分解，不计进度", note]))
    return Indicator(code=code, label=label, value=value, unit=unit, target=target,
                     target_rule=rule if target is not None else None,
                     target_scope=target_scope if target is not None else None,
                     target_met=met, progress=progress, note=note)


@dataclass
class Built:
    indicators: list[Indicator]
    charts: list[Chart] = field(default_factory=list)
    area_note: str | None = None


@dataclass(frozen=True)
class Adapter:
    service: str
    title: str
    fetches: Callable[[Area], list[Fetch]]
    build: Callable[[Area, list[Any]], Built]  # answers in the order of fetches; None for a failed extra


# --- eldercare (养老服务) ----------------------------------------------------------------------------

CANTEEN_KINDS = {"central_kitchen": "中央厨房", "canteen": "老年食堂", "meal_point": "助餐点"}
BED_TYPES = {"general": "普通床位", "nursing": "护理型", "dementia": "认知障碍照护"}
ALL_REGISTERED = "目标为新增数；此处为全部在册数"


TREND_DAYS = 7  # meals served is the one figure with a time axis (`day`): a week's trend, one call a day


def _eldercare_fetches(area: Area) -> list[Fetch]:
    today = clock.today()
    return [Fetch("/indicators", {"area_code": area.code}), *(
        Fetch("/indicators", {"area_code": area.code, "day": (today - dt.timedelta(days=n)).isoformat()})
        for n in range(TREND_DAYS - 1, 0, -1))]


def _items(answer: Any) -> dict[str, dict]:
    return {it.get("code"): it for it in pick(answer, "items") or [] if isinstance(it, dict)}


def _eldercare_build(area: Area, answers: list[Any]) -> Built:
    # eldercare answers {area_code, as_of, items: [{code, label, value, unit, target, ...}]}; some values are
    # breakdowns ({kind: count}) and the nursing share is a ratio.
    items = _items(answers[0])
    i = lambda *a, **k: indicator(area, *a, **k)  # noqa: E731

    def breakdown(code: str) -> dict[str, int] | None:
        value = items.get(code, {}).get("value")
        return value if isinstance(value, dict) else None

    def total(code: str) -> int | None:
        parts = breakdown(code)
        return sum(v for v in parts.values() if isinstance(v, (int, float))) if parts is not None else None

    share = number(items.get("nursing_bed_share"), "value")
    if share is not None and items["nursing_bed_share"].get("unit") == "ratio":
        share = round(share * 100, 1)
    visits = breakdown("visits")
    caregivers = items.get("certified_caregivers_per_10k", {})
    indicators = [
        # The plan's 150 are 标准化老年食堂: the canteen level, not the kitchens or the meal points they supply.
        i("eldercare.canteens", "标准化老年食堂", number(items.get("standardised_canteens"), "value"), "个", target=150,
          note=ALL_REGISTERED),
        i("eldercare.beds", "养老机构床位", total("beds_by_type"), "张", target=4000, note=ALL_REGISTERED),
        i("eldercare.nursing_share", "护理型床位占比", share, "%", target=60, target_scope="area"),
        i("eldercare.dementia_beds", "认知障碍照护床位", number(items.get("dementia_beds"), "value"), "张", target=960,
          note=ALL_REGISTERED),
        i("eldercare.family_beds", "家庭养老床位", number(items.get("family_beds"), "value"), "张", target=800),
        i("eldercare.caregivers_per_10k", "每万名老年人持证护理员", number(caregivers, "value"), "人", target=27,
          target_scope="area", note="按本系统登记老年人计" if caregivers else None),
        i("eldercare.meals_today", "当日助餐份数", number(items.get("meals_served"), "value"), "份"),
        i("eldercare.visits_verified", "已核验上门服务", number(visits, "verified"), "次",
          note=None if visits is None else f"异常标记 {visits.get('flagged', 0)} 次，漏服务 {visits.get('missed', 0)} 次"),
    ]
    charts = []
    meals = [(str(a.get("as_of")), number(_items(a).get("meals_served"), "value")) for a in [*answers[1:], answers[0]]
             if isinstance(a, dict)]
    if len(meals) > 1 and all(v is not None for _, v in meals):
        charts.append(Chart(code="eldercare.meals_trend", title=f"近{len(meals)}日助餐份数", kind="line", unit="份",
                            categories=[day[5:] for day, _ in meals], series=[Series(name="助餐份数",
                                                                                  values=[v for _, v in meals])]))
    for code, title, unit, names in (("beds_by_type", "养老机构床位（按类型）", "张", BED_TYPES),
                                     ("canteens_by_kind", "助餐服务点（按类型）", "个", CANTEEN_KINDS)):
        parts = breakdown(code)
        if parts:
            charts.append(Chart(code=f"eldercare.{code}", title=title, kind="bar", unit=unit,
                                categories=[names.get(k, k) for k in parts],
                                series=[Series(name=title, values=[v if isinstance(v, (int, float)) else 0
                                                                   for v in parts.values()])]))
    return Built(indicators, charts)


# --- assistance (社会救助) ---------------------------------------------------------------------------

PROGRAMMES = {"dibao": "低保", "dibao_marginal": "低保边缘", "tekun": "特困供养", "orphan_institution": "集中供养孤儿",
              "orphan_scattered": "散居孤儿", "child_in_difficulty": "困境儿童",
              "disability_living_subsidy": "困难残疾人生活补贴", "disability_care_subsidy": "重度残疾人护理补贴"}
DIBAO_STANDARD_FLOOR_YUAN = 1100  # the plan: 低保标准 at least 1,100 yuan a month in 2022


def _assistance_fetches(area: Area) -> list[Fetch]:
    return [Fetch("/indicators", {"area_code": area.code}),
            Fetch("/policies", {"code": "dibao_standard", "district": area.code[:6]})]


def _assistance_build(area: Area, answers: list[Any]) -> Built:
    d, policies = answers
    programmes = {p.get("programme"): p for p in pick(d, "totals.programmes") or [] if isinstance(p, dict)}
    indicators = []
    for code, label in PROGRAMMES.items():
        # A programme absent from well-formed totals has no one in it; malformed totals are no figure at all.
        p = programmes.get(code, {"households": 0, "persons": 0}) if isinstance(d.get("totals"), dict) else {}
        households, persons = number(p, "households"), number(p, "persons")
        indicators.append(indicator(area, f"assistance.{code}", f"{label}户数", households, "户",
                                    note=None if persons is None else f"{persons} 人"))
    grants = number(d, "totals.monthly_grants_fen")
    if grants is None and programmes:
        grants = sum(number(p, "monthly_grants_fen") or 0 for p in programmes.values())
    elif grants is None and isinstance(d.get("totals"), dict):
        grants = 0
    indicators.append(indicator(area, "assistance.monthly_grants", "月发放救助金", fen_to_yuan(grants), "元"))
    standard = None
    items = pick(policies, "items") if isinstance(policies, dict) else None
    if isinstance(items, list):
        standard = next((fen_to_yuan(it.get("value")) for it in items if it.get("code") == "dibao_standard"), None)
    indicators.append(indicator(area, "assistance.dibao_standard", "现行低保标准", standard, "元/月",
                                target=DIBAO_STANDARD_FLOOR_YUAN, target_scope="area",
                                note=None if standard is not None or policies is not None else "政策参数暂不可用"))
    indicators.append(indicator(area, "assistance.leads_open", "数据找人待核线索", number(d, "totals.leads_open"), "条"))
    indicators.append(indicator(area, "assistance.reviews_overdue", "逾期未复核", number(d, "totals.reviews_overdue"),
                                "户"))
    charts = []
    by_area = [a for a in pick(d, "by_area") or [] if isinstance(a, dict)]
    if by_area:
        present = {p.get("programme") for a in by_area for p in a.get("programmes", []) if isinstance(p, dict)}
        shown = [c for c in PROGRAMMES if c in present]
        charts.append(Chart(
            code="assistance.by_area", title="分地区救助户数", kind="bar", unit="户",
            categories=[area_name(str(a.get("area_code", ""))) for a in by_area],
            series=[Series(name=PROGRAMMES[c], values=[
                next((p.get("households", 0) for p in a.get("programmes", []) if p.get("programme") == c), 0)
                for a in by_area]) for c in shown]))
    return Built(indicators, charts)


# --- charity (慈善) ----------------------------------------------------------------------------------

PROJECT_STATUSES = {"draft": "草稿", "filed": "已备案", "fundraising": "募集中", "executing": "执行中", "closed": "已结项"}


def _charity_fetches(area: Area) -> list[Fetch]:
    return [Fetch("/indicators", {"district": area.district} if area.district else {})]


def _latest_campaign(d: Any) -> tuple[float | None, str | None]:
    """The latest one-day donation campaign's participation (percent) and its name, or why there is none."""
    campaigns = pick(d, "campaigns")
    if not isinstance(campaigns, list):
        return None, None                      # the service did not say: the usual "not given" note
    campaigns = [c for c in campaigns if isinstance(c, dict)]
    if not campaigns:
        return None, "本年及上年无一日捐活动"
    value = number(campaigns[-1], "participation")
    return value, campaigns[-1].get("name") if value is not None else None


def _charity_build(area: Area, answers: list[Any]) -> Built:
    d = answers[0]
    i = lambda *a, **k: indicator(area, *a, **k)  # noqa: E731
    participation, campaign = _latest_campaign(d)
    indicators = [
        i("charity.organizations", "登记社会组织", number(d, "organizations.registered"), "家", target=100,
          rule="more_than"),
        i("charity.new_organizations", "本年新登记社会组织", number(d, "organizations.new_this_year"), "家", target=11),
        i("charity.raised", "本年募集善款（净额）", fen_to_yuan(number(d, "money_this_year.raised_fen")), "元"),
        i("charity.spent", "本年善款支出", fen_to_yuan(number(d, "money_this_year.spent_fen")), "元"),
        i("charity.trusts", "慈善信托", number(d, "trusts.trusts"), "单",
          note=None if number(d, "trusts.scale_fen") is None else
          f"规模 {fen_to_yuan(number(d, 'trusts.scale_fen')):,.2f} 元"),
        i("charity.community_funds", "社区慈善基金覆盖率", number(d, "community_fund_coverage"), "%", target=90,
          target_scope="area"),
        i("charity.one_day_participation", "慈善一日捐单位参与率", participation, "%", target=95,
          target_scope="area", note=campaign),
    ]
    charts = []
    statuses = pick(d, "projects_by_status")
    if isinstance(statuses, dict):
        charts.append(Chart(code="charity.projects", title="慈善项目（按状态）", kind="bar", unit="个",
                            categories=[PROJECT_STATUSES.get(s, s) for s in statuses],
                            series=[Series(name="项目数", values=list(statuses.values()))]))
    by_district = pick(d, "trusts.by_district")
    if isinstance(by_district, dict) and by_district:
        charts.append(Chart(code="charity.trusts_by_district", title="各区慈善信托", kind="bar", unit="单",
                            categories=[area_name(c) for c in by_district],
                            series=[Series(name="信托数", values=[v if isinstance(v, (int, float)) else 0
                                                               for v in by_district.values()])]))
    return Built(indicators, charts)


# --- placenames (地名地址) -------------------------------------------------------------------------------

UNIFICATION_ROADS = 16  # the plan: road-name unification of 16 roads in 10 groups


def _placenames_fetches(area: Area) -> list[Fetch]:
    return [Fetch("/indicators", {"district": area.district} if area.district else {})]


def _placenames_build(area: Area, answers: list[Any]) -> Built:
    d = answers[0]
    i = lambda *a, **k: indicator(area, *a, **k)  # noqa: E731
    target = number(d, "unification_plan_roads") or UNIFICATION_ROADS
    indicators = [
        i("placenames.standard_addresses", "标准地名地址", number(d, "standard_addresses"), "条"),
        i("placenames.standard_names", "标准地名", number(d, "standard_names"), "个"),
        i("placenames.plates_issued", "在用门牌", number(d, "plates_issued"), "块"),
        i("placenames.unified_roads", "道路名称统一", number(d, "unified_roads"), "条", target=target),
        i("placenames.rectified_names", "不规范地名整治", number(d, "rectified_names"), "处"),
        i("placenames.filings_missed", "逾期未备案的命名决定", number(d, "filings_missed"), "件"),
    ]
    # The service reports city-wide figures unless it echoes the district it was asked about.
    note = None if area.is_city or pick(d, "district") == area.district else "地名地址指标为全市口径（服务未按区县提供）"
    return Built(indicators, area_note=note)


ADAPTERS = [
    Adapter("eldercare", "养老服务", _eldercare_fetches, _eldercare_build),
    Adapter("assistance", "社会救助", _assistance_fetches, _assistance_build),
    Adapter("charity", "慈善事业", _charity_fetches, _charity_build),
    Adapter("placenames", "地名地址", _placenames_fetches, _placenames_build),
]
