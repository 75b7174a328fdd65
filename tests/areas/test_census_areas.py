"""Census figures with polygons (docs/census.md): per site the union of its polygons, measured once.

The expected figures are computed here, independently: shapely's union of the polygons the test sent and
pyproj's geodesic area of it, per site, summed; each bureau's census against its own records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from app.clock import local_today
from tests.areas.shapes import square
from tests.conftest import PADDY

LAT, LON = PADDY
GEOD = Geod(ellps="WGS84")


def _area(*geometries: dict[str, Any]) -> float:
    merged = shapely.union_all([shape(g) for g in geometries])
    return abs(GEOD.geometry_area_perimeter(merged)[0])


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _summary(api: Any, bureau: str) -> dict[str, Any]:
    today = local_today()
    first = today - timedelta(days=10)
    response = api.get(f"/api/v1/census/summary?bureau={bureau}&statuses=submitted&from={first}&to={today}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_each_bureau_counts_the_union_of_each_sites_polygons(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    forestry = api_as("surveyor", "forestry")
    agriculture = api_as("surveyor", "agriculture")
    # Forestry, site A: two overlapping polygons in the period, a later visit without one (the union
    # stands), and a large polygon before the period (not counted).
    a1, a2 = square(LON, LAT, 100), square(LON, LAT, 100, east_m=50)
    site_a = make_observation(forestry, area_m2=None, geometry=a1, observed_at=_ago(5))
    make_observation(forestry, area_m2=None, geometry=a2, observed_at=_ago(4))
    make_observation(forestry, area_m2=500, observed_at=_ago(3))
    make_observation(forestry, area_m2=None, geometry=square(LON, LAT, 300), observed_at=_ago(40))
    # Forestry, site B (330 m north): a typed area only.
    b_lat = LAT + 0.003
    make_observation(forestry, latitude=b_lat, area_m2=1333.4, observed_at=_ago(2))
    # Agriculture, site C (660 m north): overlapping polygons of its own.
    c_lat = LAT + 0.006
    c1, c2 = square(LON, c_lat, 80), square(LON, c_lat, 80, north_m=40, east_m=40)
    make_observation(agriculture, latitude=c_lat, area_m2=None, geometry=c1, observed_at=_ago(5))
    make_observation(agriculture, latitude=c_lat, area_m2=None, geometry=c2, observed_at=_ago(1))

    # Control at site A: two overlapping treated polygons by hand, one spraying of a typed 2000 m².
    t1, t2 = square(LON, LAT, 60), square(LON, LAT, 60, east_m=30, north_m=30)
    treat(forestry, "hand_collection", days_ago=2, baseline=site_a, area_m2=None, geometry=t1)
    treat(forestry, "hand_collection", days_ago=1, baseline=site_a, area_m2=None, geometry=t2)
    treat(forestry, "chemical", days_ago=1.5, baseline=site_a, area_m2=2000)

    admin = api_as("admin")
    figures = {bureau: _summary(admin, bureau) for bureau in ("forestry", "agriculture", "district")}

    forestry_area = _area(a1, a2) + 1333.4
    agriculture_area = _area(c1, c2)
    assert figures["forestry"]["occurrence"]["points"] == 2
    assert figures["forestry"]["occurrence"]["area_m2"] == pytest.approx(forestry_area, abs=0.05)
    assert figures["agriculture"]["occurrence"]["points"] == 1
    assert figures["agriculture"]["occurrence"]["area_m2"] == pytest.approx(agriculture_area, abs=0.05)
    assert figures["district"]["occurrence"]["points"] == 3
    assert figures["district"]["occurrence"]["area_m2"] == pytest.approx(
        forestry_area + agriculture_area, abs=0.05
    )
    # The overlap counts once: less than the polygons' own areas added up.
    assert _area(a1, a2) < _area(a1) + _area(a2) - 1000

    hand = _area(t1, t2)
    for bureau in ("forestry", "district"):
        control = figures[bureau]["control"]
        assert control["operations"] == 3
        assert control["area_m2"] == pytest.approx(_area(t1) + _area(t2) + 2000, abs=0.05)  # 亩次
        assert control["extent_m2"] == pytest.approx(max(_area(t1, t2), 2000), abs=0.05)  # 防治范围
        methods = {row["method"]: row for row in control["by_species_method"]}
        assert methods["hand_collection"]["extent_m2"] == pytest.approx(hand, abs=0.05)
        assert methods["chemical"]["extent_m2"] == pytest.approx(2000, abs=0.05)
        [township] = control["by_township"]
        assert township["extent_m2"] == pytest.approx(max(hand, 2000), abs=0.05)
    assert figures["agriculture"]["control"]["operations"] == 0
