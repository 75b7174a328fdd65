"""The records map's found/not-found share per cluster and the area outlines of zoomed-in records
(app/gis/aggregate.py; docs/maps.md): counts checked against the records made, areas against pyproj here."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from pyproj import Geod

from app.extensions import db
from app.gis import aggregate
from app.observations.models import Observation
from tests.conftest import PADDY

LAT, LON = PADDY
VIEW = "107.60,30.50,108.00,30.90"
GEOD = Geod(ellps="WGS84")


def _square(lat: float, lon: float, metres: float) -> dict[str, Any]:
    """A square outline with its south-west corner at (lat, lon), sides along the meridian and parallel."""
    north_lon, north_lat, _ = GEOD.fwd(lon, lat, 0, metres)
    ne_lon, ne_lat, _ = GEOD.fwd(north_lon, north_lat, 90, metres)
    east_lon, east_lat, _ = GEOD.fwd(lon, lat, 90, metres)
    ring = [[lon, lat], [north_lon, north_lat], [ne_lon, ne_lat], [east_lon, east_lat], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _map(api: Any, query: str) -> Any:
    response = api.get(f"/api/v1/map/observations?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_clusters_count_found_and_not_found(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    absent = {"detected": False, "density_per_m2": None, "egg_masses_per_m2": None, "area_m2": None}
    for i in range(3):
        make_observation(api, latitude=LAT + 0.00001 * i, longitude=LON)
    for i in range(2):
        make_observation(api, latitude=LAT - 0.00001 * (i + 1), longitude=LON, **absent)
    make_observation(api, latitude=LAT + 0.04, longitude=LON + 0.04, township_code="500155002", **absent)
    body = _map(api, f"bbox={VIEW}&zoom=11")
    shares = sorted((f["properties"]["count"], f["properties"]["found"]) for f in body["features"])
    assert shares == [(1, 0), (5, 3)]
    # A filter on the finding keeps the share consistent with it.
    found_only = _map(api, f"bbox={VIEW}&zoom=11&detected=true")
    assert sorted((f["properties"]["count"], f["properties"]["found"]) for f in found_only["features"]) == [
        (3, 3)
    ]


def test_zoomed_in_records_carry_their_outline_and_its_area(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    square = _square(LAT, LON, 100)
    with_outline = make_observation(api, geometry=square, area_m2=None)
    plain = make_observation(api, latitude=LAT + 0.0005)
    view = f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"
    body = _map(api, f"bbox={view}&zoom=16")
    by_id = {f["id"]: f["properties"] for f in body["features"]}
    assert "outline" not in by_id[plain["id"]] and "area_m2" not in by_id[plain["id"]]
    shown = by_id[with_outline["id"]]
    ring = square["coordinates"][0]
    expected, _ = GEOD.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])
    assert abs(shown["area_m2"] - abs(expected)) < 0.1
    assert abs(abs(expected) / (10_000 / 15) - 15.0) < 0.075  # 15.00 亩 within 0.5 %
    outline = shown["outline"]["coordinates"][0]
    assert len(outline) == 5
    for sent in ring:  # the same corners (to 6 decimals), whichever the ring starts at
        assert any(abs(got[0] - sent[0]) < 2e-6 and abs(got[1] - sent[1]) < 2e-6 for got in outline)


def test_a_long_outline_is_simplified_for_the_map(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    # A walked edge: a 100 m square with a point every metre (400 points), nearly all on straight sides.
    corners = _square(LAT, LON, 100)["coordinates"][0]
    ring = []
    for (x1, y1), (x2, y2) in pairwise(corners):
        ring += [[x1 + (x2 - x1) * k / 100, y1 + (y2 - y1) * k / 100] for k in range(100)]
    ring.append(ring[0])
    record = make_observation(api, geometry={"type": "Polygon", "coordinates": [ring]}, area_m2=None)
    view = f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"
    body = _map(api, f"bbox={view}&zoom=15")
    [feature] = [f for f in body["features"] if f["id"] == record["id"]]
    assert len(feature["properties"]["outline"]["coordinates"][0]) <= 10


def test_the_district_view_reads_the_position_index_alone(app: Any) -> None:
    """SQLite's plan for the clusters (no other filter): the covering index, never the table's rows."""
    if db.session.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's planner chooses by its statistics; bench/map_points.py measures it
    where = aggregate._where({}, (107.6, 30.5, 108.0, 30.9), 11)
    size = aggregate.cell_degrees(11)
    gx = aggregate._floor((Observation.longitude + 180.0) / size)
    gy = aggregate._floor((Observation.latitude + 90.0) / size)
    stmt = (
        sa.select(gx, gy, sa.func.count(), sa.func.sum(sa.case((Observation.detected, 1), else_=0)))
        .where(*where)
        .group_by(gx, gy)
    )
    compiled = stmt.compile(db.session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "COVERING INDEX ix_observations_position" in plan, plan
