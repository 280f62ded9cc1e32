"""A panel of the page from a service's `/indicators` answer (`shared/indicators.py`) and the layout.

Nothing here knows a service: the tiles and charts of `layout.PANELS` name the figures, and every figure is
turned into what people read by its unit alone. A figure the service did not give, or gave out of contract,
is shown as missing in words, never as a zero.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from gateway.cockpit import layout
from gateway.cockpit.layout import Area, area_name
from gateway.cockpit.schemas import Chart, Indicator, Panel, Series
from shared.areas import CITY_CODE, area_prefix, covers
from shared.indicators import IndicatorFigure

log = logging.getLogger("gateway.cockpit")

MISSING = "服务未提供此指标"
ALL_REGISTERED = "目标为新增数；此处为全部在册数"


def build(spec: layout.Panel, answer: dict, trend: list[dict | None], area: Area) -> Panel:
    """The panel from the service's answer for `area` (and, for a trend, its answers for the days before)."""
    figures = _figures(spec.service, answer)
    days = [None if a is None else _figures(spec.service, a) for a in trend]
    indicators = [_tile(tile, figures, area) for tile in spec.tiles]
    charts = [chart for c in spec.charts if (chart := _chart(c, figures, days, area)) is not None]
    values = [i.value for i in indicators if i.available]
    empty = bool(values) and all(not v for v in values) and not area.is_city
    missing = sum(not i.available for i in indicators)
    message = None
    if not values:
        message = "该服务未提供任何可识别的指标"
    elif empty:
        message = f"{area_name(area.code)}暂无{spec.title}业务数据（各项均为 0）"
    wider = {
        f.area
        for tile in spec.tiles
        if (f := _pick(figures, tile.figure, tile.cell, area)) is not None and f.area != area.code
    }
    area_note = None
    if wider:  # the service could not narrow its figures to the area asked
        where = "、".join("全市" if code == CITY_CODE else area_name(code) for code in sorted(wider))
        area_note = f"{spec.title}指标为{where}口径（服务未按区县提供）"
    return Panel(
        service=spec.service,
        title=spec.title,
        available=bool(values),
        empty=empty,
        message=message if message else (f"{missing} 项指标暂无数据" if missing else None),
        area_note=area_note,
        as_of=max((f.as_of for f in figures), default=None),
        indicators=indicators,
        charts=charts,
    )


def _figures(service: str, answer: dict) -> list[IndicatorFigure]:
    """The answer's figures; one that does not fit the contract is left out (and logged), never guessed at."""
    items = answer.get("items")
    if not isinstance(items, list):
        log.warning("cockpit: an answer without items", extra={"fields": {"service": service}})
        return []
    figures = []
    for item in items:
        try:
            figures.append(IndicatorFigure.model_validate(item))
        except ValidationError as error:
            log.warning(
                "cockpit: a figure out of contract", extra={"fields": {"service": service, "error": str(error)[:500]}}
            )
    return figures


def _pick(figures: list[IndicatorFigure], code: str, cell: dict[str, str], area: Area) -> IndicatorFigure | None:
    """The figure of `code` and `cell` for the area, else for the nearest wider area the service reports."""
    found = [f for f in figures if f.code == code and f.dimensions == cell and covers(f.area, area.code)]
    return max(found, key=lambda f: len(area_prefix(f.area)), default=None)


def _shown(value: float, unit: str) -> float | int:
    """A figure as people read it: money in yuan, a ratio as a percentage."""
    if unit in ("fen", "fen_per_month"):
        return round(value / 100, 2)
    if unit == "ratio":
        return round(value * 100, 1)
    return value


def _tile(tile: layout.Tile, figures: list[IndicatorFigure], area: Area) -> Indicator:
    if tile.latest:
        cells = [
            f for f in figures if f.code == tile.figure and tile.latest in f.dimensions and covers(f.area, area.code)
        ]
        figure = max(cells, key=lambda f: int(v) if (v := f.dimensions[tile.latest]).isdigit() else -1, default=None)
        none_note = tile.none_note
    else:
        figure = _pick(figures, tile.figure, tile.cell, area)
        none_note = None
    if figure is None:
        return Indicator(
            code=tile.code, label=tile.label, value=None, unit=tile.unit, available=False, note=none_note or MISSING
        )
    value = _shown(figure.value, figure.unit)
    notes: list[str | None] = []
    target = figure.target
    target_value = met = progress = None
    if target is not None:
        target_value = _shown(target.value, figure.unit)
        if target.scope == "area" or area.is_city:
            met = target.met
            progress = round(min(value / target_value, 1.0), 4) if target_value else None
        else:  # the plan's figure for the whole city says nothing of one district's
            notes.append("区县未分解，不计进度")
        if target.new_in_year:
            notes.append(ALL_REGISTERED)
    notes.append(tile.note)
    parts = [(p, _pick(figures, p.figure, p.cell or tile.cell, area)) for p in tile.parts]
    notes.append("，".join(p.text.format(_quoted(f)) for p, f in parts if f is not None) or None)
    if tile.note_from:
        notes.append(figure.dimensions.get(tile.note_from))
    return Indicator(
        code=tile.code,
        label=tile.label,
        value=value,
        unit=tile.unit,
        target=target_value,
        target_rule=target.rule if target else None,
        target_scope=target.scope if target else None,
        target_met=met,
        progress=progress,
        note="；".join(n for n in notes if n) or None,
        alert=figure.alert,
    )


def _quoted(figure: IndicatorFigure) -> str:
    value = _shown(figure.value, figure.unit)
    return f"{value:,.2f}" if figure.unit in ("fen", "fen_per_month") else f"{value}"


def _chart(
    chart: layout.Chart, figures: list[IndicatorFigure], trend: list[list[IndicatorFigure] | None], area: Area
) -> Chart | None:
    if chart.by == "day":
        days = [_pick(answer or [], chart.figure, {}, area) for answer in trend] + [
            _pick(figures, chart.figure, {}, area)
        ]
        if len(days) < 2 or any(d is None for d in days):
            return None  # a trend with a hole would mislead: none at all
        return Chart(
            code=chart.code,
            title=chart.title.format(days=len(days)),
            kind=chart.kind,
            unit=chart.unit,
            categories=[d.as_of.isoformat()[5:] for d in days],
            series=[Series(name=chart.series_name or chart.title, values=[_shown(d.value, d.unit) for d in days])],
        )
    cell_keys = {chart.series} if chart.series else set()
    if chart.by == "area":
        mine = [f for f in figures if f.code == chart.figure and set(f.dimensions) == cell_keys]
        parts = [f for f in mine if covers(area.code, f.area) and f.area != area.code]
        if not parts:  # no finer breakdown: the area itself is the one bar, if it has anything
            parts = [f for f in mine if f.area == area.code and f.value]
        cells = [(f.area, f.dimensions.get(chart.series or ""), f) for f in parts]
        categories = sorted({c for c, _, _ in cells})
        labels = [area_name(c) for c in categories]
    else:
        mine = [
            f
            for f in figures
            if f.code == chart.figure and set(f.dimensions) == {chart.by} and covers(f.area, area.code)
        ]
        nearest = max((len(area_prefix(f.area)) for f in mine), default=0)  # the area, else the nearest wider one
        cells = [(f.dimensions[chart.by], None, f) for f in mine if len(area_prefix(f.area)) == nearest]
        categories = _ordered({c for c, _, _ in cells}, chart.names, [c for c, _, _ in cells])
        labels = [chart.names.get(c, c) for c in categories]
    if not categories:
        return None
    at = {(c, s): _shown(f.value, f.unit) for c, s, f in cells}
    if chart.series:
        present = {s for c, s, f in cells if f.value}
        names = _ordered(present, chart.names, [s for _, s, _ in cells])
        series = [Series(name=chart.names.get(s, s), values=[at.get((c, s), 0) for c in categories]) for s in names]
    else:
        series = [Series(name=chart.series_name or chart.title, values=[at[(c, None)] for c in categories])]
    return Chart(code=chart.code, title=chart.title, kind=chart.kind, unit=chart.unit, categories=labels, series=series)


def _ordered(values: set, known: dict[str, str], seen: list) -> list:
    """The values in the layout's order, then any new ones in the service's order (shown by their code)."""
    return [v for v in known if v in values] + list(dict.fromkeys(v for v in seen if v in values and v not in known))
