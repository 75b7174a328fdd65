"""Point-in-polygon for GeoJSON Polygon and MultiPolygon geometries (township boundaries).

Boundaries are few (a district has a few dozen townships) and points are tested one at a time, so plain
ray casting in Python is enough; no spatial library is needed on the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Ring = Sequence[Sequence[float]]


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _in_polygon(lon: float, lat: float, rings: Sequence[Ring]) -> bool:
    """The first ring is the outline; the others are holes."""
    if not rings or not _in_ring(lon, lat, rings[0]):
        return False
    return not any(_in_ring(lon, lat, hole) for hole in rings[1:])


def contains(geometry: dict[str, Any], lon: float, lat: float) -> bool:
    """Whether a GeoJSON Polygon or MultiPolygon contains the point (lon, lat)."""
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates") or []
    if kind == "Polygon":
        return _in_polygon(lon, lat, coordinates)
    if kind == "MultiPolygon":
        return any(_in_polygon(lon, lat, polygon) for polygon in coordinates)
    return False


def is_polygonal(geometry: Any) -> bool:
    """A structurally sound GeoJSON Polygon or MultiPolygon (rings of ≥ 4 [lon, lat] positions)."""
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        return False
    polygons = geometry.get("coordinates")
    if not isinstance(polygons, list) or not polygons:
        return False
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            return False
        for ring in rings:
            if not isinstance(ring, list) or len(ring) < 4:
                return False
            for position in ring:
                if not (
                    isinstance(position, list)
                    and len(position) >= 2
                    and all(isinstance(v, int | float) for v in position[:2])
                ):
                    return False
    return True
