"""Geohash cells in plain columns: a portable spatial index for PostgreSQL and SQLite alike.

A point's 9-character geohash (a cell of about 5 m × 5 m) is stored beside its coordinates, with its 5-, 6-
and 7-character prefixes in indexed columns. Points within a radius are found by equality on the cells of
one of those precisions that cover the circle's bounding box (the finest needing at most MAX_CELLS cells),
then filtered by the box and by true distance.
"""

from __future__ import annotations

import math

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
STORED_PRECISION = 9
CELL_PRECISIONS = (5, 6, 7)  # prefixes kept in their own indexed columns
EARTH_RADIUS_M = 6_371_008.8
# Cell height and width in degrees at each precision (bits alternate, longitude first).
_CELL = {p: (180 / 2 ** ((5 * p) // 2), 360 / 2 ** ((5 * p + 1) // 2)) for p in range(1, 13)}


def encode(lat: float, lon: float, precision: int = STORED_PRECISION) -> str:
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    chars, bits, value, even = [], 0, 0, True
    while len(chars) < precision:
        if even:
            mid = (lon_lo + lon_hi) / 2
            value, lon_lo, lon_hi = (value * 2 + 1, mid, lon_hi) if lon >= mid else (value * 2, lon_lo, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            value, lat_lo, lat_hi = (value * 2 + 1, mid, lat_hi) if lat >= mid else (value * 2, lat_lo, mid)
        even = not even
        bits += 1
        if bits == 5:
            chars.append(_BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


MAX_CELLS = 32


def cells_covering(lat: float, lon: float, radius_m: float, max_cells: int = MAX_CELLS) -> list[str]:
    """Geohash prefixes of one stored precision whose cells together cover the circle's bounding box: the
    finest precision that needs at most `max_cells` of them (100 m: 4–9 cells of 150 m; 1,000 m: about 15
    cells of 1.2 km × 0.6 km rather than 9 of 4.9 km, so far fewer rows are read)."""
    south, west, north, east = bounding_box(lat, lon, radius_m)
    if west > east:  # across the antimeridian: step in unwrapped longitudes
        east += 360
    for p in sorted(CELL_PRECISIONS, reverse=True):
        height, width = _CELL[p]
        rows = math.floor(north / height) - math.floor(south / height) + 1
        cols = math.floor(east / width) - math.floor(west / width) + 1
        if rows * cols <= max_cells or p == min(CELL_PRECISIONS):
            break
    cells = set()
    # Stepping by one cell from the south-west corner, and taking the far edges too, meets every cell the
    # box touches.
    lats = [min(south + i * height, north) for i in range(rows)] + [north]
    lons = [min(west + j * width, east) for j in range(cols)] + [east]
    for y in dict.fromkeys(lats):
        y = min(max(y, -89.999999), 89.999999)
        for x in dict.fromkeys(lons):
            cells.add(encode(y, ((x + 180) % 360) - 180, p))
    return sorted(cells)


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a box holding the circle, a little wider than needed (never narrower).
    Across the antimeridian west > east."""
    dlat = radius_m / 110_000  # a degree of latitude is at least 110.5 km
    dlon = radius_m / (110_000 * max(math.cos(math.radians(min(abs(lat) + dlat, 90))), 1e-6))
    wrap = lambda x: ((x + 180) % 360) - 180  # noqa: E731
    if dlon >= 180:
        return max(lat - dlat, -90), -180.0, min(lat + dlat, 90), 180.0
    return max(lat - dlat, -90), wrap(lon - dlon), min(lat + dlat, 90), wrap(lon + dlon)


def cell_columns(lat: float | None, lon: float | None) -> dict[str, str | None]:
    """The stored geohash and its indexed prefixes (`cell5`, `cell6`, `cell7`) of a point, or all None."""
    if lat is None or lon is None:
        return {"geohash": None} | {f"cell{p}": None for p in CELL_PRECISIONS}
    full = encode(lat, lon)
    return {"geohash": full} | {f"cell{p}": full[:p] for p in CELL_PRECISIONS}
