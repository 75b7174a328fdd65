"""Polygons for the area tests, built on the ground (pyproj's Geod) so their sizes are known."""

from __future__ import annotations

from typing import Any

from pyproj import Geod

GEOD = Geod(ellps="WGS84")
SQUARE_METRES_PER_MU = 2000 / 3


def square(
    lon: float, lat: float, side_m: float, *, east_m: float = 0.0, north_m: float = 0.0
) -> dict[str, Any]:
    """A GeoJSON square `side_m` on a side whose south-west corner is east_m/north_m from (lon, lat)."""
    lon, lat, _ = GEOD.fwd(lon, lat, 90, east_m) if east_m else (lon, lat, 0)
    lon, lat, _ = GEOD.fwd(lon, lat, 0, north_m) if north_m else (lon, lat, 0)
    east = GEOD.fwd(lon, lat, 90, side_m)
    north = GEOD.fwd(lon, lat, 0, side_m)
    corner = GEOD.fwd(east[0], east[1], 0, side_m)
    ring = [[lon, lat], [east[0], east[1]], [corner[0], corner[1]], [north[0], north[1]], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}
