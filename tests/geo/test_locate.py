"""The locator (app/geo/locate.py) on synthetic boundaries: tolerances in metres, townships, villages."""

from __future__ import annotations

from shapely.geometry import Polygon

from app.geo.locate import EMPTY, Locator
from tests.geo.synthetic import DISTRICT, EAST, WEST, square, village_grid

METRES_PER_DEGREE_LAT = 111_320.0


def _locator(tolerance_m: float = 50.0, district: bool = True) -> Locator:
    villages = {
        f["properties"]["code"]: Polygon(f["geometry"]["coordinates"][0])
        for f in village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 4)
    }
    return Locator(
        district=Polygon(DISTRICT) if district else None,
        townships={"500155001": Polygon(WEST), "500155002": Polygon(EAST)},
        villages=villages,
        tolerance_m=tolerance_m,
    )


def _north_of_top(metres: float) -> float:
    return 30.70 + metres / METRES_PER_DEGREE_LAT


def test_synthetic_inside_the_district_has_a_tolerance_in_metres() -> None:
    locator = _locator(tolerance_m=50.0)
    assert locator.inside(107.75, 30.65) is True
    assert locator.inside(107.75, _north_of_top(30)) is True  # 30 m out: GPS error, a line drawn at map scale
    assert locator.inside(107.75, _north_of_top(80)) is False
    assert _locator(tolerance_m=100.0).inside(107.75, _north_of_top(80)) is True
    # East–west the same metres are more degrees at 30.65° N: the tolerance is on the ground, not in degrees.
    east_30m = 107.90 + 30 / (METRES_PER_DEGREE_LAT * 0.8603)
    east_80m = 107.90 + 80 / (METRES_PER_DEGREE_LAT * 0.8603)
    assert locator.inside(east_30m, 30.65) is True and locator.inside(east_80m, 30.65) is False


def test_synthetic_township_and_village_of_a_point() -> None:
    locator = _locator()
    here = locator.locate(107.71, 30.61)
    assert (here.inside, here.township_code, here.village_code) == (True, "500155001", "500155001201")
    there = locator.locate(107.79, 30.69)
    assert (there.township_code, there.village_code) == ("500155001", "500155001216")
    east = locator.locate(107.85, 30.65)
    assert (east.township_code, east.village_code) == ("500155002", None)  # no villages loaded there
    far = locator.locate(108.5, 31.5)
    assert far == far.__class__(False, None, None)


def test_synthetic_a_point_just_outside_takes_the_nearest_unit_within_the_tolerance() -> None:
    locator = _locator(tolerance_m=50.0)
    assert locator.township_at(107.75, _north_of_top(30)) == "500155001"
    assert locator.township_at(107.75, _north_of_top(80)) is None
    assert locator.townships is not None
    assert locator.townships.holds("500155001", 107.75, _north_of_top(30)) is True
    assert locator.townships.holds("500155002", 107.75, 30.65) is False
    assert locator.townships.holds("500155099", 107.75, 30.65) is None  # no polygon for it


def test_synthetic_holes_are_outside() -> None:
    ring = Polygon(square(107.70, 30.60, 107.80, 30.70), [square(107.74, 30.64, 107.76, 30.66)])
    locator = Locator(
        district=None,
        townships={"500155001": ring},
        villages={},
        tolerance_m=0.0,
        townships_are_district=True,
    )
    assert locator.township_at(107.71, 30.61) == "500155001"
    assert locator.township_at(107.75, 30.65) is None
    # Without a district polygon the townships together are the outline, when they are all of them.
    assert locator.inside(107.71, 30.61) is True and locator.inside(107.75, 30.65) is False


def test_some_townships_alone_are_not_the_district() -> None:
    """Only some townships loaded: their union is not the outline (it would shut the others out)."""
    some = Locator(district=None, townships={"500155001": Polygon(WEST)}, villages={}, tolerance_m=0.0)
    assert not some.has_outline and some.inside(107.85, 30.65) is None
    assert some.township_at(107.75, 30.65) == "500155001"


def test_without_boundaries_nothing_is_known() -> None:
    assert EMPTY.locate(107.75, 30.65) == EMPTY.locate(0, 0)
    assert EMPTY.inside(107.75, 30.65) is None and not EMPTY.has_outline
    villages_only = Locator(
        district=None, townships={}, villages={"500155001201": Polygon(WEST)}, tolerance_m=0
    )
    assert villages_only.inside(107.75, 30.65) is None  # villages alone are not the district's outline
    assert villages_only.village_at(107.75, 30.65) == "500155001201"
