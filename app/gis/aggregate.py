"""The records map's points, aggregated on the server (docs/contract.md §5, the map budget).

The district map must paint 100 k observations within 1.5 s and fetch at most 1 MB, whatever the number of
points beyond what is visible. So the map asks for its bounding box and zoom, and gets:

- **clusters** (a grid of cells about CELL_PX screen pixels wide, anchored at 180°W/90°S so a cell stays put
  while the map pans): each with its count, how many of them found the species (the rest are absences:
  searched, not found) and the mean position of its points; the answer's size depends on the cells in
  view, never on the number of records. Only latitude, longitude and detected are read, so without other
  filters the index on (latitude, longitude, detected) covers the query and the table is not touched
  (migration c0a1d6e50020 added detected to the index for the found share);
- **points**, one per record, only when zoomed in (zoom ≥ POINT_ZOOM) and at most POINT_LIMIT match; a
  record with an area outline carries it (`outline`, simplified to about a screen pixel at the zoom) and
  its geodesic area (`area_m2`), so the map draws the polygon with its area in 亩.

The filters are the list's (GET /api/v1/observations, app/observations/services.py `filtered`), so the
same arguments give the same records. The SQL is a range on latitude and longitude (the
ix_observations_position index) and a GROUP BY of two integer expressions, the same on SQLite and
PostgreSQL (floor of a non-negative number: see _floor).
"""

from __future__ import annotations

from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from app.clock import local_zone
from app.extensions import db
from app.geo import areas
from app.observations import services as observations
from app.observations.models import Observation
from app.species.models import Species

CELL_PX = 60
POINT_ZOOM = 13
POINT_LIMIT = 1000


def cell_degrees(zoom: int) -> float:
    """The width of a cluster cell at `zoom`, in degrees (a 256-pixel tile spans 360 / 2**zoom)."""
    return CELL_PX * 360.0 / (256 * 2**zoom)


def _where(filters: dict[str, Any], bbox: tuple[float, float, float, float], zoom: int) -> list[Any]:
    """The list's WHERE clauses for `filters` and `bbox` (InvalidInput for an unknown township …)."""
    if filters and zoom < POINT_ZOOM and db.session.get_bind().dialect.name == "sqlite":
        # A wide view with other filters (found only, a status): SQLite, without statistics, would read
        # the position index and then look up most of the table row by row (3× slower at 100 k than
        # reading the table once). `+ 0` keeps the view's test off the index, so SQLite scans the table or
        # uses the other filter's index (a species). PostgreSQL's planner weighs this itself.
        min_lon, min_lat, max_lon, max_lat = bbox
        stmt = observations.filtered(filters)
        view = [
            (Observation.longitude + 0).between(min_lon, max_lon),
            (Observation.latitude + 0).between(min_lat, max_lat),
        ]
        return view + ([stmt.whereclause] if stmt.whereclause is not None else [])
    stmt = observations.filtered({**filters, "bbox": bbox})
    return [stmt.whereclause] if stmt.whereclause is not None else []


def aggregate(filters: dict[str, Any], bbox: tuple[float, float, float, float], zoom: int) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of clusters or points in `bbox` at `zoom` (see the module's docstring)."""
    where = _where(filters, bbox, zoom)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Observation).where(*where)) or 0
    if zoom >= POINT_ZOOM and total <= POINT_LIMIT:
        return {
            "type": "FeatureCollection",
            "kind": "points",
            "zoom": zoom,
            "total": total,
            "features": _points(where, zoom),
        }
    return {
        "type": "FeatureCollection",
        "kind": "clusters",
        "zoom": zoom,
        "total": total,
        "features": _clusters(where, zoom),
    }


def _outline(geometry: dict[str, Any] | None, zoom: int) -> dict[str, Any] | None:
    """A record's outline for the map: simplified to about one screen pixel at `zoom`, 6 decimals."""
    if not geometry:
        return None
    pixel = 360.0 / (256 * 2**zoom)
    simplified = shape(geometry).simplify(pixel, preserve_topology=True)
    return areas.to_geojson(shapely.set_precision(simplified, 1e-6))


def _points(where: list[Any], zoom: int) -> list[dict[str, Any]]:
    zone = local_zone()
    rows = db.session.execute(
        sa.select(
            Observation.id,
            Observation.longitude,
            Observation.latitude,
            Observation.detected,
            Observation.status,
            Observation.observed_at,
            Observation.severity,
            Observation.species_id,
            Observation.geometry,
            Observation.geometry_area_m2,
            Species.name_zh,
        )
        .join(Species, Species.id == Observation.species_id)
        .where(*where)
        .order_by(Observation.observed_at.desc(), Observation.id.desc())
    ).all()
    return [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [r.longitude, r.latitude]},
            "properties": {
                "species_id": r.species_id,
                "species": r.name_zh,
                "detected": r.detected,
                "status": r.status.value,
                "observed_at": r.observed_at.astimezone(zone).isoformat(),
                "severity": r.severity,
                **(
                    {"outline": _outline(r.geometry, zoom), "area_m2": round(r.geometry_area_m2, 1)}
                    if r.geometry and r.geometry_area_m2 is not None
                    else {}
                ),
            },
        }
        for r in rows
    ]


def _floor(value: Any) -> Any:
    # PostgreSQL's CAST rounds a float to the nearest integer; SQLite's truncates, which for the
    # non-negative values here is floor (and SQLite may be built without floor()).
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.floor(value), sa.Integer)
    return sa.cast(value, sa.Integer)


def _clusters(where: list[Any], zoom: int) -> list[dict[str, Any]]:
    size = cell_degrees(zoom)
    gx = _floor((Observation.longitude + 180.0) / size).label("gx")
    gy = _floor((Observation.latitude + 90.0) / size).label("gy")
    rows = db.session.execute(
        sa.select(
            gx,
            gy,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((Observation.detected, 1), else_=0)).label("found"),
            sa.func.avg(Observation.longitude).label("lon"),
            sa.func.avg(Observation.latitude).label("lat"),
        )
        .where(*where)
        .group_by(gx, gy)
    ).all()
    return [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 6), round(r.lat, 6)]},
            "properties": {"count": r.n, "found": int(r.found or 0)},
        }
        for r in rows
    ]
