"""Hostile area polygons (发生范围, docs/contract.md §2 Area, §6 "every parser bounds memory as well as
size"): an outline over the vertex limit is refused on a count, before any of its points is checked or
converted, so a few megabytes of positions cost a request nothing but the count."""

from __future__ import annotations

from typing import Any

import pytest

from app.geo import areas


def _runaway_ring(points: int) -> list[list[float]]:
    ring = [[107.5 + i * 1e-7, 30.5 + (i % 2) * 1e-7] for i in range(points)]
    return [*ring, [107.6, 30.6], ring[0]]


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_an_outline_over_the_limit_is_refused_before_any_point_is_converted(
    crs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[Any] = []
    monkeypatch.setattr(areas, "to_wgs84", lambda *point: converted.append(point) or point[:2])
    geometry = {"type": "Polygon", "coordinates": [_runaway_ring(40 * areas.MAX_VERTICES)]}
    with pytest.raises(areas.PolygonError, match="more than"):
        areas.parse(geometry, crs)
    assert converted == []


def test_thousands_of_parts_or_holes_count_towards_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    converted: list[Any] = []
    monkeypatch.setattr(areas, "to_wgs84", lambda *point: converted.append(point) or point[:2])
    square = [[107.5, 30.5], [107.5001, 30.5], [107.5001, 30.5001], [107.5, 30.5]]
    parts = {"type": "MultiPolygon", "coordinates": [[square]] * (areas.MAX_VERTICES // 4 + 1)}
    holes = {"type": "Polygon", "coordinates": [square] * (areas.MAX_VERTICES // 4 + 1)}
    for geometry in (parts, holes):
        with pytest.raises(areas.PolygonError, match="more than"):
            areas.parse(geometry, "gcj02")
    assert converted == []


@pytest.mark.parametrize(
    "position",
    [[float("nan"), 30.5], [107.5, float("inf")], [1e308 * 10, 30.5], [True, 30.5], ["107.5", 30.5]],
)
def test_positions_that_are_not_finite_numbers_are_refused(position: list[Any]) -> None:
    ring = [[107.5, 30.5], position, [107.6, 30.6], [107.5, 30.5]]
    with pytest.raises(areas.PolygonError, match="longitude, latitude"):
        areas.parse({"type": "Polygon", "coordinates": [ring]})


def test_a_record_with_a_runaway_outline_is_a_422_naming_geometry(
    api_as: Any, observation_payload: Any
) -> None:
    payload = {
        **observation_payload(),
        "geometry": {"type": "Polygon", "coordinates": [_runaway_ring(2 * areas.MAX_VERTICES)]},
    }
    answer = api_as("surveyor").post("/api/v1/observations", json=payload)
    assert answer.status_code == 422, answer.get_json()
    assert "geometry" in answer.get_json()["errors"]
