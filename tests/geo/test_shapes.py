from __future__ import annotations

from app.geo.shapes import contains, is_polygonal

SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
HOLE = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]


def test_polygon_with_a_hole() -> None:
    polygon = {"type": "Polygon", "coordinates": [SQUARE, HOLE]}
    assert contains(polygon, 2, 2)
    assert not contains(polygon, 5, 5)  # in the hole
    assert not contains(polygon, 11, 5)
    assert not contains(polygon, -0.001, 5)


def test_multipolygon() -> None:
    far = [[20, 20], [30, 20], [30, 30], [20, 30], [20, 20]]
    shape = {"type": "MultiPolygon", "coordinates": [[SQUARE], [far]]}
    assert contains(shape, 25, 25)
    assert contains(shape, 1, 1)
    assert not contains(shape, 15, 15)


def test_only_sound_polygons_pass() -> None:
    assert is_polygonal({"type": "Polygon", "coordinates": [SQUARE]})
    assert not is_polygonal({"type": "Point", "coordinates": [1, 2]})
    assert not is_polygonal({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]})
    assert not is_polygonal({"type": "Polygon", "coordinates": [[["a", 0], [1, 1], [2, 2], [0, 0]]]})
    assert not is_polygonal({"type": "MultiPolygon", "coordinates": []})
    assert not is_polygonal("Polygon")
