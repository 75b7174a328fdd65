"""GCJ-02 and BD-09 conversions: round trips within 0.5 m everywhere in China, known offsets in Liangping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.geo.crs import CRS, distance_m, from_wgs84, gcj02_to_wgs84, to_wgs84, to_wgs84_points, wgs84_to_gcj02

# Mainland China and Hainan, inside the algorithm's box.
china_lon = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


@settings(max_examples=500, deadline=None)
@given(lon=china_lon, lat=china_lat, crs=st.sampled_from([CRS.GCJ02, CRS.BD09]))
def test_round_trip_within_half_a_metre_everywhere_in_china(lon: float, lat: float, crs: CRS) -> None:
    shifted = from_wgs84(lon, lat, crs)
    back = to_wgs84(*shifted, crs)
    assert distance_m(lon, lat, *back) < 0.5
    # ...and the shift itself is real, so the test is not passing by doing nothing. It is smallest in
    # the north-west (about 41 m near 96.5°E 37°N on a 0.5° grid) and hundreds of metres elsewhere.
    assert distance_m(lon, lat, *shifted) > 20


def test_liangping_offset_matches_the_reference() -> None:
    # district.md: a GCJ-02 point sits ~510–525 m from the true one, ~430–450 m east, 250–285 m south.
    lon, lat = 107.80, 30.67
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert 500 < distance_m(lon, lat, g_lon, g_lat) < 530
    assert g_lon > lon and g_lat < lat
    assert 400 < distance_m(lon, lat, g_lon, lat) < 460
    assert 240 < distance_m(lon, lat, lon, g_lat) < 295


def test_known_gcj02_value() -> None:
    # Tiananmen, WGS-84 → GCJ-02, as published with the algorithm (to ~1e-6°).
    g_lon, g_lat = wgs84_to_gcj02(116.391265, 39.907339)
    assert g_lon == pytest.approx(116.397507, abs=2e-5)
    assert g_lat == pytest.approx(39.908737, abs=2e-5)


def test_points_outside_china_are_not_shifted() -> None:
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)


def test_wgs84_is_left_alone_and_unknown_systems_refused() -> None:
    assert to_wgs84(107.8, 30.67, "wgs84") == (107.8, 30.67)
    with pytest.raises(ValueError):
        to_wgs84(107.8, 30.67, "epsg:3857")


def test_distance() -> None:
    assert distance_m(107.8, 30.67, 107.8, 30.67) == 0
    # One degree of latitude is ~111.2 km.
    assert distance_m(107.8, 30.0, 107.8, 31.0) == pytest.approx(111_195, rel=1e-3)


@settings(max_examples=50, deadline=None)
@given(
    points=st.lists(
        st.tuples(
            st.floats(min_value=60.0, max_value=150.0, allow_nan=False),
            st.floats(min_value=-5.0, max_value=60.0, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    ),
    crs=st.sampled_from([CRS.GCJ02, CRS.BD09]),
)
def test_a_boundary_files_vertices_convert_as_its_points_do(
    points: list[tuple[float, float]], crs: CRS
) -> None:
    """The array conversion (boundary files, vertex arrays) gives each point what the point's own
    conversion gives, inside China's box and outside it (left alone), to well under a millimetre."""
    converted = to_wgs84_points(np.array(points), crs)
    for (lon, lat), (got_lon, got_lat) in zip(points, converted, strict=True):
        want_lon, want_lat = to_wgs84(lon, lat, crs)
        assert abs(got_lon - want_lon) < 1e-9 and abs(got_lat - want_lat) < 1e-9


def test_liangping_vertices_convert_by_the_thousand() -> None:
    lon, lat = np.meshgrid(np.linspace(107.4, 108.1, 100), np.linspace(30.4, 30.95, 100))
    points = np.column_stack((lon.ravel(), lat.ravel()))
    converted = to_wgs84_points(points, CRS.GCJ02)
    expected = np.array([gcj02_to_wgs84(x, y) for x, y in points])
    assert np.abs(converted - expected).max() < 1e-9
    shift = [distance_m(*a, *b) for a, b in zip(points[:50], converted[:50], strict=True)]
    assert min(shift) > 450 and max(shift) < 600  # the real offset, not points passed through
    assert to_wgs84_points(points, CRS.WGS84) is points
    assert to_wgs84_points(np.empty((0, 2)), CRS.GCJ02).shape == (0, 2)
