"""GET /api/v1/boundaries/outlines: the loaded boundaries for the maps, simplified per zoom, named, cached by
the boundaries' version (ETag); villages only when zoomed in; empty when none are loaded."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from flask import Flask
from shapely.geometry import shape

from app.district import boundaries
from app.district.models import BoundaryLevel
from tests.geo.synthetic import DISTRICT, EAST, WEST, feature, geojson


def _wiggly(x0: float, y0: float, x1: float, y1: float, n: int = 400) -> list[list[float]]:
    """A square whose south edge has n tiny teeth (1 m): simplified away at district zooms."""
    south = [[x0 + (x1 - x0) * i / n, y0 + (0.00001 if i % 2 else 0.0)] for i in range(n + 1)]
    return [*south, [x1, y1], [x0, y1], [x0, y0]]


@pytest.fixture
def loaded(app: Flask) -> None:
    boundaries.load_boundaries(
        geojson(feature("500155", DISTRICT)), "district.geojson", level=BoundaryLevel.DISTRICT
    )
    boundaries.load_boundaries(
        geojson(feature("500155001", _wiggly(107.70, 30.60, 107.80, 30.70)), feature("500155002", EAST)),
        "townships.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    boundaries.load_boundaries(
        geojson(feature("500155001001", WEST)), "villages.geojson", level=BoundaryLevel.VILLAGE
    )


def _get(api: Any, zoom: int, etag: str | None = None) -> Any:
    headers = {"If-None-Match": etag} if etag else {}
    return api.get(f"/api/v1/boundaries/outlines?zoom={zoom}", headers=headers)


def test_outlines_named_and_simplified_by_zoom(loaded: None, api_as: Any) -> None:
    api = api_as("surveyor")
    far = _get(api, 10)
    assert far.status_code == 200 and far.mimetype == "application/geo+json"
    body = far.get_json()
    levels = {(f["properties"]["level"], f["properties"]["code"]): f for f in body["features"]}
    assert set(levels) == {("district", "500155"), ("township", "500155001"), ("township", "500155002")}
    west = levels[("township", "500155001")]
    assert west["properties"]["name"] == "梁山街道"  # the township's own name, not the file's
    lon, lat = west["properties"]["label"]
    assert 107.70 < lon < 107.80 and 30.60 < lat < 30.70
    # At zoom 10 a pixel is ~150 m: the 1 m teeth are gone, the square stays a square.
    far_shape = shape(west["geometry"])
    assert len(shapely.get_coordinates(far_shape)) < 10
    assert abs(far_shape.area - 0.01) < 0.0005
    # Zoomed in, the villages come too, with their short names.
    near = _get(api, 14).get_json()
    villages = [f for f in near["features"] if f["properties"]["level"] == "village"]
    assert [v["properties"]["code"] for v in villages] == ["500155001001"]
    assert villages[0]["properties"]["name"]


def test_outlines_etag_follows_the_boundaries_version(loaded: None, api_as: Any) -> None:
    api = api_as("surveyor")
    first = _get(api, 9)
    tag = first.headers["ETag"].strip('"')
    assert _get(api, 9, f'"{tag}"').status_code == 304
    assert _get(api, 8, f'"{tag}"').status_code == 304  # same band: same simplification
    assert _get(api, 12, f'"{tag}"').status_code == 200
    # A new load changes the version: the old ETag no longer matches.
    boundaries.load_boundaries(
        geojson(feature("500155", DISTRICT)), "district-again.geojson", level=BoundaryLevel.DISTRICT
    )
    again = _get(api, 9, f'"{tag}"')
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]


def test_no_boundaries_no_outlines(api_as: Any) -> None:
    response = _get(api_as("surveyor"), 10)
    assert response.status_code == 200
    assert response.get_json()["features"] == []


@pytest.mark.parametrize("query", ["", "?zoom=-1", "?zoom=23", "?zoom=x"])
def test_outlines_bad_zoom_is_422_naming_it(api_as: Any, query: str) -> None:
    response = api_as("surveyor").get(f"/api/v1/boundaries/outlines{query}")
    assert response.status_code == 422
    assert "zoom" in str(response.get_json())


def test_outlines_need_sign_in(anonymous_api: Any) -> None:
    assert anonymous_api.get("/api/v1/boundaries/outlines?zoom=10").status_code == 401
