"""The one shape of every service's `/indicators`: figures of the plan, each named by a stable code.

The digital cockpit (民政数字驾驶舱) reads the four services' answers with no code of its own per service: a
new figure needs only a label there. An answer is `{"items": [IndicatorFigure, ...]}`, and each item is one
figure:

- `code`: a stable snake_case name (`meals_served`, `households`). A code keeps its meaning for good; a figure
  that counts something else gets a new code.
- `value`: a number. Counts are integers and stay integers; money is integer fen; shares say in `unit`
  whether they are a ratio (0 to 1) or a percentage.
- `unit`: one of `UNITS`.
- `area`: the division code the figure covers (330200 the city, 6 digits a district, 9 a street, 12 a
  community). A service that cannot narrow a figure to the area asked reports the wider area it does cover.
- `as_of`: the calendar day in Asia/Shanghai that the figure describes. A date, not a timestamp: figures are
  counted from the records at request time, and the plan, its targets and a `day` parameter are all by day.
- `dimensions`: the breakdown cell the figure is, e.g. `{"programme": "dibao"}`; empty for a figure over
  everything. A breakdown is one item per cell with the same code. The whole, without the dimension, is given
  beside its cells only where adding the cells up means something (beds, yes; households across programmes,
  no: one household may be in two).
- `target`: the plan's target for this figure, where the plan sets one.

A breakdown by area is items with the same code and dimensions and a finer `area` (a district's streets).
`(code, area, dimensions)` names an item: an answer never holds two items with the same three.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.schemas import Schema

# The bureau's 2022 work plan, where every target of the suite comes from.
PLAN = "宁波市民政局2022年工作要点"

Unit = Literal["count", "fen", "fen_per_month", "ratio", "percent", "per_10k"]
UNITS: dict[str, str] = {
    "count": "a number of things (canteens, beds, households, portions, events …)",
    "fen": "money, in fen (1/100 yuan)",
    "fen_per_month": "money a month, in fen",
    "ratio": "a share between 0 and 1",
    "percent": "a share between 0 and 100",
    "per_10k": "per 10,000 (the note says of whom)",
}


class IndicatorTarget(Schema):
    """The plan's target for one figure, in the figure's own unit, and whether the figure meets it."""

    value: int | float = Field(description="The target, in the figure's unit")
    rule: Literal["at_least", "more_than"] = Field(
        "at_least", description="How the figure is compared with it: ≥ (`at_least`) or > (`more_than`)"
    )
    scope: Literal["city", "area"] = Field(
        description="`city`: one figure for the whole city, not broken down by district, so it says nothing of a "
        "district's own figure; `area`: it applies to every area (a share, a rate, a standard)"
    )
    new_in_year: bool = Field(
        False,
        description="The plan counts new ones in its year while the figure counts all registered, which "
        "overstates progress until a baseline date is recorded",
    )
    met: bool = Field(description="Whether the figure meets the target (compared as the service counts it)")
    source: str = Field(PLAN, description="Where the target comes from")
    note: str | None = Field(None, description="What exactly the target counts, where that needs saying")


class IndicatorFigure(Schema):
    """One figure of the plan's indicators (see `shared/indicators.py` for the contract)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable snake_case code, e.g. `meals_served`")
    value: int | float = Field(description="The figure: counts are integers, money is fen")
    unit: Unit = Field(description="; ".join(f"`{k}`: {v}" for k, v in UNITS.items()))
    area: str = Field(description="The division code the figure covers (330200: the whole city)")
    as_of: dt.date = Field(description="The day (Asia/Shanghai) the figure describes; counted at request time")
    dimensions: dict[str, str] = Field(
        default_factory=dict, description='The breakdown cell, e.g. {"programme": "dibao"}; empty for the whole'
    )
    target: IndicatorTarget | None = Field(None, description="The plan's target, where it sets one")
    note: str | None = Field(None, description="What the figure counts, where its code does not say it all")
    alert: bool = Field(
        False,
        description="True when the figure needs staff's attention now (a reconciliation "
        "that found differences, say); the cockpit shows it as an alert",
    )


class Indicators(Schema):
    """A service's answer at `/indicators`: its figures, in one list."""

    items: list[IndicatorFigure]


class Figures:
    """Collects the figures of one answer for one area and day: `add(...)` each, then `answer()`."""

    def __init__(self, area: str, as_of: dt.date):
        self.area = area
        self.as_of = as_of
        self.items: list[IndicatorFigure] = []

    def add(
        self,
        code: str,
        value: float,
        unit: Unit,
        *,
        area: str | None = None,
        target: IndicatorTarget | None = None,
        note: str | None = None,
        alert: bool = False,
        as_of: dt.date | None = None,
        **dimensions: str | int,
    ) -> None:
        self.items.append(
            IndicatorFigure(
                code=code,
                value=value,
                unit=unit,
                area=area or self.area,
                as_of=as_of or self.as_of,
                dimensions={k: str(v) for k, v in dimensions.items()},
                target=target,
                note=note,
                alert=alert,
            )
        )

    def answer(self) -> Indicators:
        return Indicators(items=self.items)


def target(
    value: float,
    figure: float,
    *,
    scope: Literal["city", "area"],
    rule: Literal["at_least", "more_than"] = "at_least",
    met: bool | None = None,
    new_in_year: bool = False,
    note: str | None = None,
) -> IndicatorTarget:
    """The plan's target `value` for `figure`; `met` is compared by `rule` unless the service counts it itself."""
    if met is None:
        met = figure > value if rule == "more_than" else figure >= value
    return IndicatorTarget(value=value, rule=rule, scope=scope, new_in_year=new_in_year, met=met, note=note)
