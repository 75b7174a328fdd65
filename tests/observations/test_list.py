"""Listing and mapping observations: filters, pagination, GeoJSON, constant query counts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PADDY


@pytest.fixture
def three_records(api_as: Any, make_observation: Any, species_id: Any) -> dict[str, Any]:
    forestry = api_as("surveyor", "forestry")
    agriculture = api_as("surveyor", "agriculture")
    lat, lon = PADDY
    snail = make_observation(forestry, observed_at="2026-05-04T09:00:00+08:00")
    weed = make_observation(
        agriculture,
        species_id=species_id("alternanthera-philoxeroides"),
        observed_at="2026-05-05T23:30:00+08:00",
        latitude=lat + 0.05,
        longitude=lon + 0.05,
        township_code="500155002",
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=35,
    )
    absent = make_observation(
        forestry,
        detected=False,
        observed_at="2026-06-01T10:00:00+08:00",
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
        accuracy_m=60,
    )
    return {"snail": snail, "weed": weed, "absent": absent, "forestry": forestry}


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_filters(api_as: Any, three_records: dict[str, Any], species_id: Any) -> None:
    api = api_as("verifier")
    snail, weed, absent = (
        three_records["snail"]["id"],
        three_records["weed"]["id"],
        three_records["absent"]["id"],
    )
    assert _ids(api.get("/api/v1/observations")) == [absent, weed, snail]  # newest first
    weed_id = species_id("alternanthera-philoxeroides")
    assert _ids(api.get(f"/api/v1/observations?species_id={weed_id}")) == [weed]
    assert _ids(api.get("/api/v1/observations?township_code=500155002")) == [weed]
    assert _ids(api.get("/api/v1/observations?detected=false")) == [absent]
    assert _ids(api.get("/api/v1/observations?organization=agriculture")) == [weed]
    assert _ids(api.get("/api/v1/observations?flag=low_accuracy")) == [absent]
    assert _ids(api.get("/api/v1/observations?status=submitted")) == [absent, weed, snail]
    surveyor = three_records["forestry"].user.id
    assert _ids(api.get(f"/api/v1/observations?surveyor_id={surveyor}")) == [absent, snail]
    # Days are Asia/Shanghai days: 23:30 on 5 May local is still 5 May.
    assert _ids(api.get("/api/v1/observations?from=2026-05-05&to=2026-05-05")) == [weed]
    assert _ids(api.get("/api/v1/observations?to=2026-05-04")) == [snail]
    lat, lon = PADDY
    bbox = f"{lon + 0.04},{lat + 0.04},{lon + 0.06},{lat + 0.06}"
    assert _ids(api.get(f"/api/v1/observations?bbox={bbox}")) == [weed]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,20,5,30", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("from=2026-13-01", "from"),
        ("from=0001-01-01", "from"),  # converting day boundaries once overflowed (500)
        ("to=9999-12-31", "to"),
        ("from=2026-05-02&to=2026-05-01", "to"),
        ("township_code=nowhere", "township_code"),
        ("organization=nobody", "organization"),
        ("status=lost", "status"),
        ("per_page=501", "per_page"),
        ("flag=odd", "flag"),
    ],
)
def test_bad_filters_are_named(api_as: Any, query: str, field: str) -> None:
    response = api_as("verifier").get(f"/api/v1/observations?{query}")
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_pagination_envelope(api_as: Any, three_records: dict[str, Any]) -> None:
    page = api_as("verifier").get("/api/v1/observations?per_page=2&page=2").get_json()
    assert page["total"] == 3
    assert page["page"] == 2
    assert page["per_page"] == 2
    assert len(page["items"]) == 1


def test_geojson(api_as: Any, three_records: dict[str, Any]) -> None:
    response = api_as("verifier").get("/api/v1/observations/geojson?detected=true")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection"
    assert collection["total"] == 2
    snail = next(f for f in collection["features"] if f["id"] == three_records["snail"]["id"])
    assert snail["geometry"] == {
        "type": "Point",
        "coordinates": [three_records["snail"]["longitude"], three_records["snail"]["latitude"]],
    }
    assert snail["properties"]["species"] == "福寿螺"
    assert snail["properties"]["observed_at"] == "2026-05-04T09:00:00+08:00"


def test_list_query_count_does_not_grow_with_page_size(
    api_as: Any, make_observation: Any, count_queries: Any
) -> None:
    surveyor = api_as("surveyor")
    lat, _lon = PADDY
    for i in range(6):
        make_observation(surveyor, latitude=lat + 0.001 * i)
    api = api_as("verifier")
    counts = []
    for per_page in (1, 6):
        with count_queries() as queries:
            assert api.get(f"/api/v1/observations?per_page={per_page}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
