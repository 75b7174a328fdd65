"""The GIS downloads draw records, sites and operations as their polygons when they have one."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import shape

from tests.areas.shapes import square
from tests.conftest import PADDY
from tests.gis.formats import Shapefile, read_geojson, read_kml

LAT, LON = PADDY
KML = "{http://www.opengis.net/kml/2.2}"


def _download(api: Any, layer: str, fmt: str) -> bytes:
    response = api.get(f"/api/v1/{layer}/download?format={fmt}", buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.data  # type: ignore[no-any-return]


@pytest.mark.parametrize("layer", ["observations", "sites", "control-operations"])
def test_polygons_are_in_every_gis_format(api_as: Any, make_observation: Any, treat: Any, layer: str) -> None:
    surveyor = api_as("surveyor")
    drawn = square(LON, LAT, 100)
    record = make_observation(surveyor, area_m2=None, geometry=drawn)
    # Treated now: the record, made just before, is its baseline (a baseline is from before the treatment).
    operation, _ = treat(
        surveyor, "hand_collection", days_ago=0, baseline=record, area_m2=None, geometry=drawn
    )
    plain = make_observation(surveyor, latitude=LAT + 0.01)  # a point only: stays a point
    wanted = {"observations": record["id"], "sites": record["site_id"], "control-operations": operation["id"]}
    point_id = {"observations": plain["id"], "sites": plain["site_id"], "control-operations": None}
    api = api_as("verifier")

    features = {f["properties"]["id"]: f for f in read_geojson(_download(api, layer, "geojson"))["features"]}
    polygon = features[wanted[layer]]["geometry"]
    assert polygon["type"] == "Polygon"
    assert shape(polygon).equals_exact(shape(drawn), 1e-9)
    if point_id[layer] is not None:
        assert features[point_id[layer]]["geometry"]["type"] == "Point"

    marks = {int(m["data"]["id"]): m for m in read_kml(_download(api, layer, "kml"))}
    assert marks[wanted[layer]]["geometry"].tag == f"{KML}Polygon"

    zipped = Shapefile(_download(api, layer, "shapefile"))
    base = layer.replace("-", "_")
    shapes = {row["ID"]: geometry for row, geometry in zipped.rows(f"{base}_polygon")}
    assert shapes[wanted[layer]]["type"] == "Polygon"
    assert shape(shapes[wanted[layer]]).area == pytest.approx(shape(drawn).area, rel=1e-6)
