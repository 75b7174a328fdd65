"""Measuring on the ground: geodesic areas and lengths (pyproj's Geod), and a local metric frame so that
tolerances are in metres; geometries to and from GeoJSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import shapely
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from app.geo.boundaries.report import Geometry

GEOD = Geod(ellps="WGS84")


def geodesic_area_m2(geometry: BaseGeometry) -> float:
    """Area on the WGS-84 ellipsoid in m² (pyproj's Geod), whatever the rings' orientation.

    Geod adds the rings' signed areas as they come: a part traced clockwise would cancel a counter-clockwise
    one, and a hole traced like its shell would be added. So each polygon is oriented (shell
    counter-clockwise, holes clockwise) and measured alone, and the parts are summed unsigned. Drawn
    outlines (app/geo/areas.py) and boundaries share this one measure.
    """
    if geometry.is_empty:
        return 0.0
    polygons = getattr(geometry, "geoms", [geometry])
    total = 0.0
    for polygon in polygons:
        if isinstance(polygon, Polygon):
            area, _perimeter = GEOD.geometry_area_perimeter(shapely.geometry.polygon.orient(polygon))
            total += abs(area)
    return total


def geodesic_length_m(geometry: BaseGeometry) -> float:
    """Length of a line or of a polygon's rings on the WGS-84 ellipsoid, in metres."""
    return float(GEOD.geometry_length(geometry))


class MetricFrame:
    """A transverse Mercator frame centred on the data: planar metres, < 0.01 % distortion over a district."""

    def __init__(self, lon: float, lat: float):
        local = ProjCRS.from_proj4(
            f"+proj=tmerc +lon_0={lon:.6f} +lat_0={lat:.6f} +k=1 +ellps=WGS84 +units=m"
        )
        forward = Transformer.from_crs(ProjCRS.from_epsg(4326), local, always_xy=True)
        inverse = Transformer.from_crs(local, ProjCRS.from_epsg(4326), always_xy=True)
        self._forward = forward
        self._inverse = inverse

    @classmethod
    def around(cls, geometries: Iterable[BaseGeometry]) -> MetricFrame:
        bounds = shapely.total_bounds(list(geometries))
        if not np.all(np.isfinite(bounds)):
            return cls(0.0, 0.0)
        return cls((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)

    def to_metres(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(
            geometry, lambda p: np.column_stack(self._forward.transform(p[:, 0], p[:, 1]))
        )

    def to_degrees(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(
            geometry, lambda p: np.column_stack(self._inverse.transform(p[:, 0], p[:, 1]))
        )

    def buffer(self, geometry: BaseGeometry, metres: float) -> BaseGeometry:
        """The geometry grown (or shrunk, when negative) by a distance in metres, back in degrees."""
        return self.to_degrees(self.to_metres(geometry).buffer(metres))


def wider_than(frame: MetricFrame, geometry: BaseGeometry, tolerance_m: float) -> bool:
    """Whether any part of the geometry is wider than the tolerance (a sliver along a shared edge is not)."""
    if geometry.is_empty or geometry.area == 0:
        return False
    return not frame.to_metres(geometry).buffer(-tolerance_m / 2).is_empty


def polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the areal parts of an overlay result (shared edges come back as lines)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    return shapely.union_all(parts) if parts else Polygon()


def to_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """A geometry as a GeoJSON geometry object (what the database keeps)."""
    return dict(shapely.geometry.mapping(geometry))


def from_geojson(geometry: Mapping[str, Any]) -> Geometry:
    loaded = shape(geometry)
    if not isinstance(loaded, Polygon | MultiPolygon):
        raise ValueError(f"not a polygon: {loaded.geom_type}")
    return loaded
