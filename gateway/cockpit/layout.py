"""What the cockpit shows, and where: panels of tiles and charts, each naming a figure of a service's `/indicators`.

Every service answers in the one shape of `shared/indicators.py`, so this file holds no code per service: a
new figure on the page is one line here (its code, its Chinese label and the word for its unit). Targets,
their rules and their scope come from the services; the units are turned into what people read (fen into
yuan, a ratio into a percentage) by `gateway/cockpit/service.py`, the same for every figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.areas import CITY_CODE
from shared.divisions import districts
from shared.programmes import LABELS as PROGRAMME_LABELS

# The city's current districts, in code order, from the one division tree.
DISTRICTS = {district.code: district.name for district in districts()}


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
class Part:
    """Another figure quoted in a tile's note, e.g. the persons beside the households: `text` holds `{}`."""

    figure: str
    text: str
    cell: dict[str, str] = field(default_factory=dict)  # default: the tile's own cell


@dataclass(frozen=True)
class Tile:
    code: str  # the page's code of the tile (stable: screens and tests name it)
    figure: str  # the service's indicator code
    label: str
    unit: str  # the word after the number: 个, 张, 元 …
    cell: dict[str, str] = field(default_factory=dict)  # the breakdown cell shown, e.g. {"programme": "dibao"}
    note: str | None = None  # said when the figure is there
    parts: tuple[Part, ...] = ()
    latest: str | None = None  # show the last cell of this dimension (the latest campaign) …
    note_from: str | None = None  # … and name it by this dimension
    none_note: str | None = None  # said instead of "not given" when there is no cell at all


@dataclass(frozen=True)
class Chart:
    code: str
    title: str
    kind: Literal["bar", "line"]
    unit: str
    figure: str
    by: str  # the x-axis: "area" (the parts of the area), "day" (a trend), or a dimension
    names: dict[str, str] = field(default_factory=dict)  # labels of the x-axis values (or of the series)
    series: str | None = None  # a dimension giving one series per value (stacked)
    series_name: str | None = None  # the one series' name, when not the title
    days: int = 7  # for a trend: how many days, today included


@dataclass(frozen=True)
class Panel:
    service: Literal["eldercare", "assistance", "charity", "placenames"]
    title: str
    area_param: Literal["area_code", "district"]  # how the service is asked for an area (each keeps its own)
    tiles: tuple[Tile, ...]
    charts: tuple[Chart, ...] = ()


PROJECT_STATUSES = {
    "draft": "草稿",
    "filed": "已备案",
    "fundraising": "募集中",
    "executing": "执行中",
    "closed": "已结项",
}

PANELS = (
    Panel(
        "eldercare",
        "养老服务",
        "area_code",
        (
            # The plan's 150 are 标准化老年食堂: the canteen level, not the kitchens or the meal points they supply.
            Tile("eldercare.canteens", "canteens", "标准化老年食堂", "个", {"kind": "canteen"}),
            Tile("eldercare.beds", "beds", "养老机构床位", "张"),
            Tile("eldercare.nursing_share", "nursing_bed_share", "护理型床位占比", "%"),
            Tile("eldercare.dementia_beds", "beds", "认知障碍照护床位", "张", {"bed_type": "dementia"}),
            Tile("eldercare.family_beds", "family_beds", "家庭养老床位", "张"),
            Tile(
                "eldercare.caregivers_per_10k",
                "certified_caregivers_per_10k",
                "每万名老年人持证护理员",
                "人",
                note="按本系统登记老年人计",
            ),
            Tile("eldercare.meals_today", "meals_served", "当日助餐份数", "份"),
            Tile(
                "eldercare.visits_verified",
                "visits",
                "已核验上门服务",
                "次",
                {"status": "verified"},
                parts=(
                    Part("visits", "异常标记 {} 次", {"status": "flagged"}),
                    Part("visits", "漏服务 {} 次", {"status": "missed"}),
                ),
            ),
        ),
        (
            Chart(
                "eldercare.meals_trend",
                "近{days}日助餐份数",
                "line",
                "份",
                "meals_served",
                "day",
                series_name="助餐份数",
            ),
            Chart(
                "eldercare.beds_by_type",
                "养老机构床位（按类型）",
                "bar",
                "张",
                "beds",
                "bed_type",
                {"general": "普通床位", "nursing": "护理型", "dementia": "认知障碍照护"},
            ),
            Chart(
                "eldercare.canteens_by_kind",
                "助餐服务点（按类型）",
                "bar",
                "个",
                "canteens",
                "kind",
                {"central_kitchen": "中央厨房", "canteen": "老年食堂", "meal_point": "助餐点"},
            ),
        ),
    ),
    Panel(
        "assistance",
        "社会救助",
        "area_code",
        (
            *(
                Tile(
                    f"assistance.{code}",
                    "households",
                    f"{label}户数",
                    "户",
                    {"programme": code},
                    parts=(Part("persons", "{} 人"),),
                )
                for code, label in PROGRAMME_LABELS.items()
            ),
            Tile("assistance.monthly_grants", "monthly_grants", "月发放救助金", "元"),
            Tile("assistance.dibao_standard", "dibao_standard", "现行低保标准", "元/月"),
            Tile("assistance.leads_open", "leads_open", "数据找人待核线索", "条"),
            Tile("assistance.reviews_overdue", "reviews_overdue", "逾期未复核", "户"),
        ),
        (
            Chart(
                "assistance.by_area",
                "分地区救助户数",
                "bar",
                "户",
                "households",
                "area",
                PROGRAMME_LABELS,
                series="programme",
            ),
        ),
    ),
    Panel(
        "charity",
        "慈善事业",
        "district",
        (
            Tile("charity.organizations", "organizations_registered", "登记社会组织", "家"),
            Tile("charity.new_organizations", "organizations_new_this_year", "本年新登记社会组织", "家"),
            Tile("charity.raised", "raised", "本年募集善款（净额）", "元", {"period": "this_year"}),
            Tile("charity.spent", "spent", "本年善款支出", "元", {"period": "this_year"}),
            Tile("charity.trusts", "trusts", "慈善信托", "单", parts=(Part("trust_scale", "规模 {} 元"),)),
            Tile(
                "charity.ledger_differences",
                "ledger_differences",
                "最近一次对账差异",
                "处",
                none_note="尚无本区域的对账记录",
            ),
            Tile("charity.community_funds", "community_fund_coverage", "社区慈善基金覆盖率", "%"),
            Tile(
                "charity.one_day_participation",
                "campaign_participation",
                "慈善一日捐单位参与率",
                "%",
                latest="campaign_id",
                note_from="campaign_name",
                none_note="本年及上年无一日捐活动",
            ),
        ),
        (
            Chart(
                "charity.projects",
                "慈善项目（按状态）",
                "bar",
                "个",
                "projects",
                "status",
                PROJECT_STATUSES,
                series_name="项目数",
            ),
            Chart("charity.trusts_by_district", "各区慈善信托", "bar", "单", "trusts", "area", series_name="信托数"),
        ),
    ),
    Panel(
        "placenames",
        "地名地址",
        "district",
        (
            Tile("placenames.standard_addresses", "standard_addresses", "标准地名地址", "条"),
            Tile("placenames.standard_names", "standard_names", "标准地名", "个"),
            Tile("placenames.plates_issued", "plates_issued", "在用门牌", "块"),
            Tile("placenames.unified_roads", "unified_roads", "道路名称统一", "条"),
            Tile("placenames.rectified_names", "rectified_names", "不规范地名整治", "处"),
            Tile("placenames.filings_missed", "filings_missed", "逾期未备案的命名决定", "件"),
        ),
    ),
)
