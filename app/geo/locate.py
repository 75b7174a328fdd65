"""Where a point is: inside the district, in which township and village (docs/contract.md §2, Boundaries).

Built once from the loaded boundaries and kept per process (app/district/boundaries.py caches it by the
boundaries' version). Each level keeps its polygons prepared (shapely.prepare) in an STRtree, so a point is
tested against the one or two polygons whose bounding box holds it, not all 343 villages.

Tolerances are in metres: the district outline is grown by the tolerance in a local metric frame once, and a
point just outside every township or village takes the nearest one when it is within the tolerance on the
ground.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from app.geo.boundaries import MetricFrame
from app.geo.crs import distance_m

METRES_PER_DEGREE_LAT = 111_320.0


@dataclass(frozen=True)
class Location:
    inside: bool | None  # None: no outline loaded (the caller falls back to the district's box)
    township_code: str | None
    village_code: str | None


class Level:
    """The polygons of one level (townships, villages): prepared, in a bounding-box index."""

    def __init__(self, polygons: Mapping[str, BaseGeometry], tolerance_m: float):
        self.codes = list(polygons)
        self.index = {code: i for i, code in enumerate(self.codes)}
        self.geometries = np.array([polygons[c] for c in self.codes], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self.tolerance_m = tolerance_m

    def __len__(self) -> int:
        return len(self.codes)

    def at(self, lon: float, lat: float) -> str | None:
        """The code of the polygon containing the point; else the nearest within the tolerance; else None."""
        point = Point(lon, lat)
        for index in self.tree.query(point):  # bounding boxes holding the point: usually one or two
            if shapely.contains_xy(self.geometries[index], lon, lat):
                return self.codes[index]
        if self.tolerance_m <= 0:
            return None
        # Degrees only to bound the index search; the decision below is in metres on the ground.
        reach = self.tolerance_m / (METRES_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 0.01))
        best: tuple[float, str] | None = None
        for index in self.tree.query(point.buffer(reach)):
            nearest = nearest_points(self.geometries[index], point)[0]
            distance = distance_m(lon, lat, nearest.x, nearest.y)
            if distance <= self.tolerance_m and (best is None or distance < best[0]):
                best = (distance, self.codes[index])
        return None if best is None else best[1]

    def holds(self, code: str, lon: float, lat: float) -> bool | None:
        """Whether the unit's polygon holds the point (or lies within the tolerance); None: no polygon."""
        index = self.index.get(code)
        if index is None:
            return None
        geometry = self.geometries[index]
        if shapely.contains_xy(geometry, lon, lat):
            return True
        nearest = nearest_points(geometry, Point(lon, lat))[0]
        return distance_m(lon, lat, nearest.x, nearest.y) <= self.tolerance_m


class Locator:
    """Answers where a point is from whichever levels have polygons."""

    def __init__(
        self,
        *,
        district: BaseGeometry | None,
        townships: Mapping[str, BaseGeometry],
        villages: Mapping[str, BaseGeometry],
        tolerance_m: float,
        townships_are_district: bool = False,
    ):
        """`townships_are_district`: every township of the district has a polygon, so without a district
        polygon their union is the outline. With some missing it is not: the union would shut every record
        of the others out of the district (the caller's box stands instead)."""
        self.tolerance_m = tolerance_m
        self.townships = Level(townships, tolerance_m) if townships else None
        self.villages = Level(villages, tolerance_m) if villages else None
        outline = district
        if outline is None and townships and townships_are_district:
            outline = shapely.union_all(list(townships.values()))
        self.outline: BaseGeometry | None = None
        if outline is not None and not outline.is_empty:
            grown = MetricFrame.around([outline]).buffer(outline, tolerance_m) if tolerance_m > 0 else outline
            shapely.prepare(grown)
            self.outline = grown

    @property
    def has_outline(self) -> bool:
        return self.outline is not None

    def inside(self, lon: float, lat: float) -> bool | None:
        """Inside the district's outline (grown by the tolerance); None when there is no outline."""
        if self.outline is None:
            return None
        return bool(shapely.contains_xy(self.outline, lon, lat))

    def township_at(self, lon: float, lat: float) -> str | None:
        return self.townships.at(lon, lat) if self.townships else None

    def village_at(self, lon: float, lat: float) -> str | None:
        return self.villages.at(lon, lat) if self.villages else None

    def locate(self, lon: float, lat: float) -> Location:
        return Location(self.inside(lon, lat), self.township_at(lon, lat), self.village_at(lon, lat))


EMPTY = Locator(district=None, townships={}, villages={}, tolerance_m=0.0)
