"""Area polygons (发生范围, docs/contract.md §2 Area): checking a GeoJSON Polygon or MultiPolygon, its
geodesic area, and the union of several.

A polygon arrives as GeoJSON in the `crs` its points are in (GCJ-02 and BD-09 are converted vertex by
vertex, as points are: app/geo/crs.py) and is kept as WGS-84 GeoJSON. Its area is geodesic, on the WGS-84
ellipsoid (pyproj's Geod), in m²; a 100 m × 100 m square at Liangping's latitude is 15.00 亩. A phone may
trace a ring either way round, so the area never trusts the direction: each polygon is oriented before it
is measured (`geodesic_area_m2`).

Whether a polygon lies in the district is the caller's question (`Polygon.vertices` to test): this module
knows no district.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

# One measure for drawn outlines and boundaries alike: each polygon oriented, its areas summed unsigned.
from app.geo.boundaries.measure import geodesic_area_m2 as geodesic_area_m2
from app.geo.crs import CRS, to_wgs84

# Vertices a drawn or walked outline may have: a walked edge records a point every few metres, so a
# paddy's outline is tens to hundreds; more is a runaway track, not an area.
MAX_VERTICES = 5000

# The least area an outline may enclose, in m². A real patch, even one clump of 喜旱莲子草, is more; less is
# a mis-tap (corners a centimetre apart) that would be stored as 0 亩 and counted as a presence of no size.
MIN_AREA_M2 = 1.0


def N_(message: str) -> str:
    """Marks a message for translation (extracted by Babel); the caller translates it when it is shown."""
    return message


class PolygonError(ValueError):
    """Why a geometry is not an area polygon: `reason` (an English message marked with N_) and its
    `values`, for the caller to translate in the reader's language (app/geo/checks of the domains)."""

    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__(reason % values if values else reason)
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Polygon:
    """A checked area polygon: WGS-84 GeoJSON, its shapely shape and its geodesic area in m²."""

    geojson: dict[str, Any]
    shape: BaseGeometry
    area_m2: float

    def distance_m(self, lon: float, lat: float) -> float:
        """How far the point (WGS-84) lies from the outline, in metres (0 inside it). Measured on a local
        flat frame around the point: exact enough for the hundreds of metres it is asked about."""
        metres_per_degree = 111_320.0
        east = metres_per_degree * math.cos(math.radians(lat))
        local = shapely.transform(self.shape, lambda xy: (xy - (lon, lat)) * (east, metres_per_degree))
        return float(local.distance(shapely.Point(0.0, 0.0)))

    @property
    def vertices(self) -> list[tuple[float, float]]:
        """Every outer-ring vertex (lon, lat): the points to test against the district."""
        polygons = self.shape.geoms if isinstance(self.shape, MultiPolygon) else [self.shape]
        return [(x, y) for p in polygons for x, y in p.exterior.coords]


def _position(value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise PolygonError(N_("Every position must be [longitude, latitude]."))
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PolygonError(N_("Every position must be [longitude, latitude]."))
    return lon, lat


def _ring(value: Any, crs: CRS) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not value:
        raise PolygonError(N_("Each ring must be a list of [longitude, latitude] positions."))
    positions = [_position(p) for p in value]
    if positions[0] != positions[-1]:
        raise PolygonError(N_("A ring must be closed: its last position repeats its first."))
    if len(set(positions[:-1])) < 3:
        raise PolygonError(N_("A ring needs at least 3 distinct points."))
    return [to_wgs84(lon, lat, crs) for lon, lat in positions]


def parse(geometry: Any, crs: CRS | str = CRS.WGS84) -> Polygon:
    """Check a GeoJSON Polygon or MultiPolygon in `crs`; returns it as WGS-84 with its area.

    Raises PolygonError: not a Polygon or MultiPolygon, a ring not closed or with fewer than 3 distinct
    points, too many vertices, a ring whose points lie on one line, self-crossing (any invalidity shapely
    finds: rings crossing themselves or each other, a hole outside its shell), or an area under
    MIN_AREA_M2.
    """
    crs = CRS(crs)
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        raise PolygonError(N_('Send a GeoJSON geometry of type "Polygon" or "MultiPolygon".'))
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        raise PolygonError(N_("The geometry has no coordinates."))
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    count = 0
    for rings in polygons:  # counted before any point is checked or converted: a runaway outline
        if not isinstance(rings, list) or not rings:  # costs a count, not a conversion per point
            raise PolygonError(N_("Each polygon must be a list of rings (the outline, then any holes)."))
        count += sum(len(ring) if isinstance(ring, list) else 1 for ring in rings)
        if count > MAX_VERTICES:
            raise PolygonError(N_("The outline has more than %(max)d points."), max=MAX_VERTICES)
    parts = [[_ring(ring, crs) for ring in rings] for rings in polygons]
    # A ring on one line is invalid to shapely too, but its reason ("Self-intersection[107.8 30.6]") is
    # English and says nothing a surveyor can act on: it gets its own.
    if any(shapely.MultiPoint(ring).convex_hull.area == 0 for rings in parts for ring in rings):
        raise PolygonError(N_("The points of a ring lie on one line: it encloses no area."))
    if geometry["type"] == "Polygon":
        found: BaseGeometry = shape({"type": "Polygon", "coordinates": parts[0]})
    else:
        found = shape({"type": "MultiPolygon", "coordinates": parts})
    if not found.is_valid:
        raise PolygonError(
            N_("The outline crosses itself or another of its rings (%(why)s)."), why=explain_validity(found)
        )
    area = geodesic_area_m2(found)
    if area < MIN_AREA_M2:
        raise PolygonError(
            N_("The outline encloses less than %(min)d m²; check its points."), min=MIN_AREA_M2
        )
    return Polygon(geojson=to_geojson(found), shape=found, area_m2=area)


def union(geometries: Iterable[BaseGeometry | dict[str, Any]]) -> BaseGeometry | None:
    """The union of polygons (shapes or WGS-84 GeoJSON); None when there are none."""
    shapes = [g if isinstance(g, BaseGeometry) else shape(g) for g in geometries if g]
    if not shapes:
        return None
    return shapely.union_all(shapes)


def union_area_m2(geometries: Sequence[BaseGeometry | dict[str, Any]]) -> float:
    """The geodesic area of the union: overlapping polygons count once."""
    merged = union(geometries)
    return 0.0 if merged is None else geodesic_area_m2(merged)


def to_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON mapping of plain lists (JSON columns store it as it is)."""

    def lists(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [lists(v) for v in value]
        return value

    mapped = mapping(geometry)
    return {"type": mapped["type"], "coordinates": lists(mapped["coordinates"])}
