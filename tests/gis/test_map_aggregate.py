"""GET /api/v1/map/observations: the records map's points aggregated by zoom and view (docs/contract.md §5):
clusters with counts at district zooms, points only zoomed in and few enough; the list's filters; a bad
view is a 422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from app.gis import aggregate
from tests.conftest import PADDY

LAT, LON = PADDY
VIEW = "107.60,30.50,108.00,30.90"


@pytest.fixture
def spread(api_as: Any, make_observation: Any) -> dict[str, Any]:
    """Three records close together at the paddy (one an absence), one 5 km north-east, one far outside."""
    api = api_as("surveyor")
    near = [make_observation(api, latitude=LAT + 0.0001 * i, longitude=LON + 0.0001 * i) for i in range(2)]
    absent = make_observation(
        api,
        detected=False,
        latitude=LAT - 0.0001,
        longitude=LON,
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
    )
    other = make_observation(api, latitude=LAT + 0.04, longitude=LON + 0.04, township_code="500155002")
    return {"near": near, "absent": absent, "other": other, "api": api}


def _map(api: Any, query: str) -> Any:
    response = api.get(f"/api/v1/map/observations?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_district_zoom_gives_clusters_with_counts(spread: dict[str, Any]) -> None:
    body = _map(spread["api"], f"bbox={VIEW}&zoom=11")
    assert body["kind"] == "clusters" and body["total"] == 4
    counts = sorted(f["properties"]["count"] for f in body["features"])
    assert counts == [1, 3]  # the paddy's three (one not found) in one cell, the other alone
    big = max(body["features"], key=lambda f: f["properties"]["count"])
    lon, lat = big["geometry"]["coordinates"]
    assert abs(lat - LAT) < 0.001 and abs(lon - LON) < 0.001  # at the mean of its points


def test_zoomed_in_gives_points(spread: dict[str, Any]) -> None:
    view = f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"
    body = _map(spread["api"], f"bbox={view}&zoom=16")
    assert body["kind"] == "points" and body["total"] == 3
    ids = {f["id"] for f in body["features"]}
    assert ids == {spread["near"][0]["id"], spread["near"][1]["id"], spread["absent"]["id"]}
    point = next(f for f in body["features"] if f["id"] == spread["absent"]["id"])
    assert point["properties"]["detected"] is False
    assert point["properties"]["species"] == "福寿螺"
    assert point["properties"]["observed_at"].endswith("+08:00")


def test_too_many_points_stay_clusters(spread: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregate, "POINT_LIMIT", 2)
    body = _map(spread["api"], f"bbox={VIEW}&zoom=16")
    assert body["kind"] == "clusters" and body["total"] == 4
    assert sum(f["properties"]["count"] for f in body["features"]) == 4


def test_the_lists_filters_apply(spread: dict[str, Any]) -> None:
    api = spread["api"]
    assert _map(api, f"bbox={VIEW}&zoom=11&detected=false")["total"] == 1
    assert _map(api, f"bbox={VIEW}&zoom=11&township_code=500155002")["total"] == 1
    listed = api.get(f"/api/v1/observations?bbox={VIEW}&detected=true").get_json()["total"]
    assert _map(api, f"bbox={VIEW}&zoom=11&detected=true")["total"] == listed == 3
    # Outside the view: nothing.
    assert _map(api, "bbox=100,20,100.1,20.1&zoom=11") == {
        "type": "FeatureCollection",
        "kind": "clusters",
        "zoom": 11,
        "total": 0,
        "features": [],
    }


def test_answer_size_does_not_grow_with_records_in_one_cell(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    make_observation(api)
    small = api.get(f"/api/v1/map/observations?bbox={VIEW}&zoom=10").get_data()
    for i in range(5):
        make_observation(api, latitude=LAT + 0.00001 * i)
    large = api.get(f"/api/v1/map/observations?bbox={VIEW}&zoom=10").get_data()
    assert abs(len(large) - len(small)) <= 2  # only the count's digits change


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("zoom=10", "bbox"),
        (f"bbox={VIEW}", "zoom"),
        ("bbox=1,2,3&zoom=10", "bbox"),
        ("bbox=10,50,0,60&zoom=10", "bbox"),
        (f"bbox={VIEW}&zoom=23", "zoom"),
        (f"bbox={VIEW}&zoom=-1", "zoom"),
        (f"bbox={VIEW}&zoom=10&township_code=nowhere", "township_code"),
    ],
)
def test_bad_view_is_422_naming_the_field(api_as: Any, query: str, field: str) -> None:
    response = api_as("surveyor").get(f"/api/v1/map/observations?{query}")
    assert response.status_code == 422, response.get_json()
    assert field in str(response.get_json())


def test_map_needs_sign_in(anonymous_api: Any) -> None:
    assert anonymous_api.get(f"/api/v1/map/observations?bbox={VIEW}&zoom=10").status_code == 401
