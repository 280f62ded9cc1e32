"""Positions given in request bodies."""

from __future__ import annotations

from shared.errors import InvalidInput


def check_coordinates(latitude: float | None, longitude: float | None) -> None:
    """Latitude and longitude are given together or not at all: otherwise a 422 naming the one missing."""
    if (latitude is None) != (longitude is None):
        raise InvalidInput(
            "longitude" if longitude is None else "latitude", "latitude and longitude are given together or not at all"
        )
