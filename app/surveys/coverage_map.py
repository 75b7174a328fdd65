"""A campaign's coverage map (docs/surveys.md, Coverage): the FeatureCollection of its units (outlines
coloured by status), its routes (simplified, split at their pauses, only those the viewer may read) and
its records, drawn from app/surveys/coverage.py's result."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from app.district.models import Boundary
from app.extensions import db
from app.surveys.coverage import Coverage
from app.surveys.coverage_reading import walked_line

ROUTE_SIMPLIFY_DEGREES = 0.00005  # about 5 m: a walked track keeps its shape, the payload shrinks
OUTLINE_SIMPLIFY_DEGREES = 0.0001  # about 10 m on an outline drawn at village scale
MAX_MAP_RECORDS = 5000


def _outlines(codes: Iterable[str]) -> dict[str, Any]:
    """The unit polygons the map draws, simplified: one statement for the campaign's units."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(Boundary.code, Boundary.geometry).where(Boundary.code.in_(wanted))
    ).all()
    outlines = {}
    for code, geometry in rows:
        shape = shapely.geometry.shape(geometry)
        outlines[code] = shapely.geometry.mapping(
            shapely.simplify(shape, OUTLINE_SIMPLIFY_DEGREES, preserve_topology=True)
        )
    return outlines


def _simplified_route(coordinates: np.ndarray | None, gaps: list[int] | None = None) -> dict[str, Any] | None:
    line = walked_line(coordinates, gaps)
    if line is None:
        return None
    return shapely.geometry.mapping(shapely.simplify(line, ROUTE_SIMPLIFY_DEGREES, preserve_topology=False))


def geojson(coverage: Coverage, route_readers: Collection[int] | None = None) -> dict[str, Any]:
    """The map's FeatureCollection: units (their outlines, coloured by status, when boundaries are
    loaded; else the points of their records), the routes as simplified lines, and the records.

    `route_readers`: the organizations whose routes the caller may read (acting_ids; None: every one's).
    A route's line and its surveyor follow the routes' own rule (a surveyor's track is read by its
    bureau's staff, app/policy.py may_read_route): the other routes count in the units' figures only."""
    outlines = _outlines(u.unit_code for u in coverage.units if u.by_polygon)
    features: list[dict[str, Any]] = []
    record_points: dict[int, list[list[float]]] = {}
    for record in coverage.records:
        for unit_id in record.unit_ids:
            record_points.setdefault(unit_id, []).append([record.longitude, record.latitude])
    for u in coverage.units:
        geometry = outlines.get(u.unit_code)
        if geometry is None and record_points.get(u.unit_id):
            geometry = {"type": "MultiPoint", "coordinates": record_points[u.unit_id]}
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "kind": "unit",
                    "unit_id": u.unit_id,
                    "code": u.unit_code,
                    "name": u.name,
                    "township": u.township_name,
                    "status": u.status.value,
                    "overdue": u.overdue,
                    "assignee": u.assignee_name,
                    "due_on": u.due_on.isoformat() if u.due_on else None,
                    "routes": u.routes,
                    "records": u.records,
                    "outline": u.unit_code in outlines,
                },
            }
        )
    for route in coverage.routes:
        if route_readers is not None and route.organization_id not in route_readers:
            continue
        line = _simplified_route(route.coordinates, route.gaps)
        if line is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": line,
                "properties": {
                    "kind": "route",
                    "route_id": route.id,
                    "surveyor": route.surveyor_name,
                    "length_m": round(route.length_m, 1),
                    "moving_s": route.moving_s,
                    "units": route.unit_ids,
                },
            }
        )
    for record in coverage.records[-MAX_MAP_RECORDS:]:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [record.longitude, record.latitude]},
                "properties": {"kind": "record", "id": record.id, "detected": record.detected},
            }
        )
    return {"type": "FeatureCollection", "features": features}
