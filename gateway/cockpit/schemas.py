"""What the cockpit page reads: panels of tiles and charts, built from the services' figures by the layout."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.schemas import Schema


class Indicator(Schema):
    code: str = Field(description="Stable code of the indicator, e.g. `eldercare.canteens`")
    label: str = Field(description="Chinese label shown on the page")
    value: float | int | None = Field(description="The figure, or null when the service did not give it")
    unit: str = Field(description="个, 张, %, 元, 户 …")
    target: float | int | None = Field(None, description="The plan's 2022 target, when it sets one")
    target_rule: Literal["at_least", "more_than"] | None = Field(
        None, description="How the value is compared with the target: ≥ (at_least) or > (more_than)"
    )
    target_scope: Literal["area", "city"] | None = Field(
        None, description="`city`: an absolute city-wide target, shown without progress for a district"
    )
    target_met: bool | None = Field(None, description="Null when there is no target or no value to compare")
    progress: float | None = Field(None, description="value / target, capped at 1; null without a comparable target")
    available: bool = Field(True, description="False when the service answered but this indicator was missing")
    note: str | None = Field(None, description="Why a figure is missing, or what it counts (Chinese)")
    alert: bool = Field(False, description="The service flags the figure for staff's attention now (e.g. 对账差异)")


class Series(Schema):
    name: str
    values: list[float | int]


class Chart(Schema):
    code: str
    title: str
    kind: Literal["bar", "line"]
    unit: str
    categories: list[str] = Field(description="x-axis labels (districts, statuses, days…)")
    series: list[Series]


class Panel(Schema):
    service: Literal["eldercare", "assistance", "charity", "placenames"]
    title: str = Field(description="Chinese title of the panel")
    available: bool
    message: str | None = Field(None, description="Why the panel is unavailable or empty, in Chinese")
    empty: bool = Field(False, description="The service answered but has no records for this area")
    area_note: str | None = Field(None, description="When the service only reports city-wide figures")
    as_of: dt.date | None = None
    # pydantic copies a field's default for each instance, so a literal [] is safe here (and documented as such).
    indicators: list[Indicator] = []  # noqa: RUF012
    charts: list[Chart] = []  # noqa: RUF012


class District(Schema):
    code: str
    name: str


class CockpitOut(Schema):
    area_code: str = Field(description="330200 for the whole city, else the district asked for")
    area_name: str
    generated_at: dt.datetime = Field(description="When the figures were gathered (they are cached briefly)")
    cached: bool = Field(description="True when served from the short cache")
    panels: list[Panel]
    districts: list[District] = Field(description="The districts this member of staff may choose")
