"""Reading an answer of `/indicators` (`shared/indicators.py`) in tests: one figure by its code and cell."""

from __future__ import annotations

from shared.indicators import Indicators


def checked(body: dict) -> dict:
    """The answer, once checked against the contract: the shared model, and no two items naming one figure."""
    Indicators.model_validate(body)
    names = [(i["code"], i["area"], tuple(sorted(i["dimensions"].items()))) for i in body["items"]]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    return body


def item(body: dict, code: str, *, area: str | None = None, **dimensions) -> dict:
    """The one item with this code, exactly these dimensions and (when given) this area."""
    cell = {k: str(v) for k, v in dimensions.items()}
    found = [
        i
        for i in body["items"]
        if i["code"] == code and i["dimensions"] == cell and (area is None or i["area"] == area)
    ]
    assert len(found) == 1, (code, area, cell, found)
    return found[0]


def value(body: dict, code: str, *, area: str | None = None, **dimensions) -> int | float:
    return item(body, code, area=area, **dimensions)["value"]


def cells(body: dict, code: str, dimension: str, *, area: str | None = None) -> dict[str, int | float]:
    """A breakdown: each value of `dimension` → its figure (items with that one dimension)."""
    return {
        i["dimensions"][dimension]: i["value"]
        for i in body["items"]
        if i["code"] == code and set(i["dimensions"]) == {dimension} and (area is None or i["area"] == area)
    }
