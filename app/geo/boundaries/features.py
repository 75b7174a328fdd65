"""From a file's rows to features: the code field, the coordinate system, rings checked before shapely
sees them (shapely closes an open ring silently, and a bureau must hear that its file has one), then for
self-crossings with shapely's own validity test."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from app.geo.boundaries.report import (
    N_,
    NAME_FIELDS,
    BoundaryFileError,
    Feature,
    Geometry,
    Problem,
    Text,
    says,
)
from app.geo.crs import CRS, file_crs, to_wgs84_points


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def choose_field(fields: Sequence[str], wanted: str | None, filename: str, candidates: Sequence[str]) -> str:
    if wanted is not None:
        if wanted not in fields:
            listed = ", ".join(fields) if fields else "none"
            raise BoundaryFileError(
                says(
                    N_("%(file)s: there is no field %(field)s; its fields are: %(fields)s"),
                    file=filename,
                    field=repr(wanted),
                    fields=listed,
                )
            )
        return wanted
    found = next((f for f in candidates if f in fields), None)
    if found is None:
        listed = ", ".join(fields) if fields else "none"
        raise BoundaryFileError(
            says(
                N_(
                    "%(file)s: no code field (%(tried)s); name one with --code-field; "
                    "its fields are: %(fields)s"
                ),
                file=filename,
                tried=", ".join(candidates),
                fields=listed,
            )
        )
    return found


def text(value: Any) -> str:
    """A code as text: DBF numbers come back as 500155104 or 500155104.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def name_of(properties: Mapping[str, Any]) -> str | None:
    value = next((properties[f] for f in NAME_FIELDS if properties.get(f) not in (None, "")), None)
    return None if value is None else str(value).strip()


def system_of(crs: str | None, default: str, why: str) -> tuple[CRS, str]:
    if crs is not None:
        return file_crs(crs), f"{crs.strip().lower()} (--crs)"
    return file_crs(default), f"{default} ({why})"


Transform = CRS | Callable[[np.ndarray], np.ndarray]


def _ring_problem(ring: Any) -> Text | None:
    if not isinstance(ring, list) or len(ring) < 4:
        return says(N_("a ring has fewer than 4 positions"))
    for position in ring:
        if not (
            isinstance(position, list | tuple)
            and len(position) >= 2
            and all(isinstance(v, int | float) and math.isfinite(v) for v in position[:2])
        ):
            return says(N_("a position %(position)s is not two numbers"), position=json.dumps(position)[:40])
    if list(ring[0][:2]) != list(ring[-1][:2]):
        return says(
            N_("a ring does not close (it starts at %(start)s and ends at %(end)s)"),
            start=_at(ring[0]),
            end=_at(ring[-1]),
        )
    return None


def _at(position: Sequence[float]) -> str:
    return f"{position[0]:.6f} {position[1]:.6f}"


def feature(
    number: int,
    code: str,
    name: str | None,
    polygons: list[list[Any]] | Text,
    system: Transform,
    problems: list[Problem],
) -> Feature:
    label = says(N_("feature #%(number)s (%(code)s)"), number=number, code=code) if code else None
    label = label or says(N_("feature #%(number)s"), number=number)

    def about(reason: Text) -> Text:
        return says(N_("%(feature)s: %(reason)s"), feature=label, reason=reason)

    if isinstance(polygons, Text):
        problems.append(Problem("no_geometry", "error", about(polygons), (code,)))
        return Feature(number, code, name, None)
    if not polygons:
        problems.append(Problem("no_geometry", "error", about(says(N_("it has no polygon"))), (code,)))
        return Feature(number, code, name, None)
    parts = []
    for rings in polygons:
        reason = says(N_("a polygon has no rings")) if not isinstance(rings, list) or not rings else None
        reason = reason or next((r for r in map(_ring_problem, rings) if r), None)
        if reason:
            problems.append(Problem("invalid_ring", "error", about(reason), (code,)))
            return Feature(number, code, name, None)
        parts.append(
            Polygon([tuple(p[:2]) for p in rings[0]], [[tuple(p[:2]) for p in r] for r in rings[1:]])
        )
    geometry: Geometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    # Every system a file may name is in degrees, so a position beyond ±180/±90 means the file is not:
    # metres of a projection (a QGIS export left in Gauss-Krüger) or latitude and longitude swapped. Left
    # to the checks, it ends in a pyproj error (a 500), not a reason.
    degrees = _beyond_degrees(geometry) if isinstance(system, CRS) else None
    geometry = _to_wgs84(geometry, system)
    degrees = degrees or _beyond_degrees(geometry)
    if degrees:
        problems.append(Problem("not_degrees", "error", about(degrees), (code,)))
        return Feature(number, code, name, None)
    if not geometry.is_valid:
        why = explain_validity(geometry)
        problems.append(Problem("invalid_ring", "error", about(_validity(why)), (code,)))
        return Feature(number, code, name, None)
    return Feature(number, code, name, geometry)


def _beyond_degrees(geometry: Geometry) -> Text | None:
    """Why the geometry is not longitude/latitude in degrees (a position beyond ±180/±90), or None."""
    west, south, east, north = geometry.bounds
    if all(map(math.isfinite, (west, south, east, north))) and (
        west >= -180 and east <= 180 and south >= -90 and north <= 90
    ):
        return None
    corner = next(
        (
            (x, y)
            for x, y in shapely.get_coordinates(geometry)
            if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90)
        ),
        (west, south),
    )
    return says(
        N_(
            "its coordinates are not longitude and latitude in degrees (%(at)s): the file is probably in a "
            "projection, in metres, or has latitude and longitude swapped; send a Shapefile with its .prj, "
            "or convert the file to WGS-84"
        ),
        at=f"{corner[0]:.6f} {corner[1]:.6f}",
    )


def _validity(reason: str) -> Text:
    """shapely's reason ("Self-intersection[107.8 30.6]") in words a bureau can act on."""
    if reason.startswith("Self-intersection") or reason.startswith("Ring Self-intersection"):
        return says(N_("a ring crosses itself at %(at)s"), at=reason.split("[", 1)[-1].rstrip("]"))
    return says(N_("invalid polygon: %(reason)s"), reason=reason)


def _to_wgs84(geometry: Geometry, system: Transform) -> Geometry:
    if isinstance(system, CRS):
        if system is CRS.WGS84:
            return geometry
        return shapely.transform(geometry, lambda points: to_wgs84_points(points, system))
    return shapely.transform(geometry, system)


def geojson_polygons(geometry: Any) -> list[list[Any]] | Text:
    """A GeoJSON geometry as a list of polygons (lists of rings), or a reason it is none."""
    if not isinstance(geometry, dict):
        return says(N_("it has no geometry"))
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon" and isinstance(coordinates, list):
        return [coordinates]
    if kind == "MultiPolygon" and isinstance(coordinates, list):
        return coordinates
    if kind == "GeometryCollection" and isinstance(geometry.get("geometries"), list):
        polygons: list[list[Any]] = []
        for part in geometry["geometries"]:
            found = geojson_polygons(part)
            if isinstance(found, Text):
                return found
            polygons += found
        return polygons
    return says(N_("its geometry is a %(kind)s, not a Polygon or MultiPolygon"), kind=kind)
