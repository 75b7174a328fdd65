"""The tiles that cover an area (app/geo/tiles.py), against a tile-by-tile check of every tile in the
area's bounding box, and the z/x/y formulas against tiles whose place is known."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from app.geo import tiles


def brute_force(area: Polygon | MultiPolygon, zoom: int) -> set[tuple[int, int]]:
    """Every tile of the bounding box whose square (from its own corners) touches the area."""
    n = 2**zoom
    west, south, east, north = area.bounds
    x0 = math.floor((west + 180) / 360 * n)
    x1 = math.floor((east + 180) / 360 * n)
    found = set()
    for x in range(x0, x1 + 1):
        for y in range(n):
            w, s, e, nn = tiles.tile_bounds(zoom, x, y)
            if nn < south or s > north:
                continue
            if box(w, s, e, nn).intersects(area):
                found.add((x, y))
    return found


def expanded(rows: list[tiles.Row]) -> set[tuple[int, int]]:
    return {(x, y) for y, first, last in rows for x in range(first, last + 1)}


# A concave township (a "C" opening east) and a township in two parts, near Liangping.
CONCAVE = Polygon(
    [
        (107.70, 30.60),
        (107.85, 30.60),
        (107.85, 30.63),
        (107.74, 30.63),
        (107.74, 30.67),
        (107.85, 30.67),
        (107.85, 30.70),
        (107.70, 30.70),
    ]
)
TWO_PARTS = MultiPolygon([box(107.60, 30.50, 107.62, 30.52), box(107.90, 30.80, 107.95, 30.81)])


@pytest.mark.parametrize("area", [CONCAVE, TWO_PARTS, box(107.75, 30.65, 107.7501, 30.6501)])
@pytest.mark.parametrize("zoom", [8, 11, 13, 15])
def test_rows_are_exactly_the_tiles_touching_the_area(area: Polygon, zoom: int) -> None:
    rows = tiles.tile_rows(area, zoom)
    assert expanded(rows) == brute_force(area, zoom)
    assert tiles.count(rows) == len(expanded(rows))  # rows never overlap


def test_a_concave_area_leaves_out_the_tiles_of_its_bay() -> None:
    rows = tiles.tile_rows(CONCAVE, 15)
    bay = box(107.76, 30.635, 107.84, 30.665)  # inside the C's opening
    x, y = (math.floor(v) for v in tiles.tile_xy(bay.centroid.x, bay.centroid.y, 15))
    assert (x, y) not in expanded(rows)
    assert tiles.count(rows) < len(brute_force(box(*CONCAVE.bounds), 15))


def test_tile_formulas_place_known_tiles() -> None:
    assert tiles.tile_xy(0.0, 0.0, 1) == (1.0, 1.0)
    x, y = tiles.tile_xy(-180.0, tiles.MAX_LAT, 0)
    assert (x, pytest.approx(y, abs=1e-6)) == (0.0, 0.0)
    # Liangping at zoom 10: x = floor((107.8 + 180) / 360 * 1024) = 818
    assert math.floor(tiles.tile_xy(107.8, 30.67, 10)[0]) == 818
    w, s, e, n = tiles.tile_bounds(10, 818, 422)
    assert w < 107.8 < e and math.isclose(e - w, 360 / 1024)
    assert s < n


def test_an_empty_area_has_no_tiles() -> None:
    assert tiles.tile_rows(Polygon(), 12) == []
