"""Area polygons on records (docs/contract.md §2 Area): checked, measured on the ellipsoid, shown in 亩."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.district import boundaries
from app.district.models import BoundaryLevel
from app.extensions import db
from app.geo.crs import from_wgs84
from app.observations.models import Flag, Observation
from app.sites.models import Site
from tests.areas.shapes import square
from tests.conftest import PADDY
from tests.geo.synthetic import DISTRICT, feature, geojson

LAT, LON = PADDY


def test_a_100_m_square_at_liangping_is_15_mu(api_as: Any, make_observation: Any) -> None:
    data = make_observation(api_as("surveyor"), area_m2=None, geometry=square(LON, LAT, 100))
    assert data["area_mu"] == pytest.approx(15.00, rel=0.005)
    assert data["geometry_area_m2"] == pytest.approx(10_000, rel=0.005)
    assert data["area_m2"] == data["geometry_area_m2"]  # the polygon's area stands for the untyped one
    assert data["geometry"]["type"] == "Polygon"
    assert data["flags"] == []


def test_a_typed_area_within_20_percent_stands_and_one_beyond_is_flagged(
    api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    close = make_observation(api, area_m2=11_500, geometry=square(LON, LAT, 100))
    assert close["area_m2"] == 11_500
    assert close["flags"] == []
    days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()  # not a likely duplicate of the first
    far = make_observation(api, area_m2=12_500, geometry=square(LON, LAT, 100), observed_at=days_ago)
    assert far["area_m2"] == 12_500  # the surveyor's figure is kept, and looked at again
    assert far["flags"] == ["area_mismatch"]
    listed = api.get("/api/v1/observations?flag=area_mismatch").get_json()
    assert [o["id"] for o in listed["items"]] == [far["id"]]


def test_a_gcj02_polygon_is_stored_as_wgs84(api_as: Any, make_observation: Any) -> None:
    wgs = square(LON, LAT, 100)
    gcj = {
        "type": "Polygon",
        "coordinates": [[list(from_wgs84(lon, lat, "gcj02")) for lon, lat in wgs["coordinates"][0]]],
    }
    data = make_observation(api_as("surveyor"), area_m2=None, geometry=gcj, crs="gcj02")
    for (lon, lat), (want_lon, want_lat) in zip(
        data["geometry"]["coordinates"][0], wgs["coordinates"][0], strict=True
    ):
        assert lon == pytest.approx(want_lon, abs=1e-7)
        assert lat == pytest.approx(want_lat, abs=1e-7)
    assert data["area_mu"] == pytest.approx(15.00, rel=0.005)


def test_a_multipolygon_counts_both_parts(api_as: Any, make_observation: Any) -> None:
    one = square(LON, LAT, 100)["coordinates"]
    two = square(LON, LAT, 50, east_m=300)["coordinates"]
    data = make_observation(
        api_as("surveyor"), area_m2=None, geometry={"type": "MultiPolygon", "coordinates": [one, two]}
    )
    assert data["geometry_area_m2"] == pytest.approx(12_500, rel=0.005)


def test_a_multipolygon_with_a_part_drawn_clockwise_counts_both_parts(
    api_as: Any, make_observation: Any
) -> None:
    """Geod adds signed ring areas: a clockwise part used to cancel the other, storing about 0 m²."""
    one = square(LON, LAT, 100)["coordinates"][0]
    two = list(reversed(square(LON, LAT, 100, east_m=300)["coordinates"][0]))
    data = make_observation(
        api_as("surveyor"), area_m2=None, geometry={"type": "MultiPolygon", "coordinates": [[one], [two]]}
    )
    assert data["geometry_area_m2"] == pytest.approx(20_000, rel=0.005)
    assert data["area_m2"] == data["geometry_area_m2"]
    assert data["area_mu"] == pytest.approx(30.0, rel=0.005)


def test_a_hole_traced_like_its_shell_is_subtracted(api_as: Any, make_observation: Any) -> None:
    shell = square(LON, LAT, 200)["coordinates"][0]
    hole = square(LON, LAT, 100, east_m=50, north_m=50)["coordinates"][0]  # counter-clockwise, as the shell
    data = make_observation(
        api_as("surveyor"), area_m2=None, geometry={"type": "Polygon", "coordinates": [shell, hole]}
    )
    assert data["geometry_area_m2"] == pytest.approx(30_000, rel=0.005)


def test_a_treated_outline_with_a_part_drawn_clockwise_counts_both_parts(api_as: Any, treat: Any) -> None:
    one = square(LON, LAT, 100)["coordinates"][0]
    two = list(reversed(square(LON, LAT, 100, east_m=300)["coordinates"][0]))
    geometry = {"type": "MultiPolygon", "coordinates": [[one], [two]]}
    operation, _baseline = treat(api_as("surveyor"), area_m2=None, geometry=geometry)
    assert operation["geometry_area_m2"] == pytest.approx(20_000, rel=0.005)
    assert operation["area_m2"] == operation["geometry_area_m2"]


def _ring(*points: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[LON + dx, LAT + dy] for dx, dy in points]]}


@pytest.mark.parametrize(
    ("geometry", "english"),
    [
        (_ring((0, 0), (0.001, 0.001), (0.001, 0), (0, 0.001), (0, 0)), "crosses itself"),
        (_ring((0, 0), (0.001, 0), (0.001, 0), (0, 0)), "at least 3 distinct points"),
        (_ring((0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001)), "closed"),
        ({"type": "Point", "coordinates": [LON, LAT]}, "Polygon"),
        ({"type": "Polygon", "coordinates": [[["a", 1], [2, 3]]]}, "[longitude, latitude]"),
        (square(LON + 3, LAT, 100), "outside"),
        (square(LON, LAT, 0.01), "less than 1 m²"),  # a mis-tap: corners a centimetre apart
        (_ring((0, 0), (0.001, 0), (0.002, 0), (0, 0)), "on one line"),
    ],
)
def test_invalid_polygons_are_refused_naming_geometry_in_the_readers_language(
    api_as: Any, observation_payload: Any, geometry: dict[str, Any], english: str
) -> None:
    api = api_as("surveyor")
    body = observation_payload(geometry=geometry)
    refused = api.post("/api/v1/observations", json=body, headers={"Accept-Language": "en"})
    assert refused.status_code == 422, refused.get_json()
    assert list(refused.get_json()["errors"]) == ["geometry"]
    assert english in refused.get_json()["errors"]["geometry"][0]
    chinese = api.post("/api/v1/observations", json=body).get_json()["errors"]["geometry"][0]
    assert chinese != refused.get_json()["errors"]["geometry"][0]
    assert any("\u4e00" <= c <= "\u9fff" for c in chinese)
    assert db.session.query(Observation).count() == 0


@pytest.mark.parametrize(
    "geometry",
    [square(LON, LAT, 0.01), _ring((0, 0), (0.001, 0.001), (0.002, 0.002), (0, 0))],
    ids=["a centimetre square", "collinear"],
)
def test_an_outline_of_no_size_is_refused_with_a_chinese_reason_of_its_own(
    api_as: Any, observation_payload: Any, geometry: dict[str, Any]
) -> None:
    """Stored, it was a presence of 0 亩 in the census; a collinear ring got shapely's English
    "Self-intersection[…]" inside the Chinese message."""
    response = api_as("surveyor").post(
        "/api/v1/observations", json=observation_payload(area_m2=None, geometry=geometry)
    )
    assert response.status_code == 422, response.get_json()
    [reason] = response.get_json()["errors"]["geometry"]
    assert not any("a" <= c.lower() <= "z" for c in reason), reason


def test_editing_the_polygon_measures_it_again(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    data = make_observation(api, area_m2=None, geometry=square(LON, LAT, 100))
    edited = api.patch(f"/api/v1/observations/{data['id']}", json={"geometry": square(LON, LAT, 200)})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["area_m2"] == pytest.approx(40_000, rel=0.005)
    assert edited.get_json()["flags"] == []
    # An edit of something else keeps the stored (WGS-84) polygon as it is, even with a GCJ-02 point.
    point = from_wgs84(LON, LAT, "gcj02")
    kept = api.patch(
        f"/api/v1/observations/{data['id']}",
        json={"notes": "田埂", "crs": "gcj02", "longitude": point[0], "latitude": point[1]},
    ).get_json()
    assert kept["geometry"] == edited.get_json()["geometry"]
    removed = api.patch(f"/api/v1/observations/{data['id']}", json={"geometry": None}).get_json()
    assert removed["geometry"] is None
    assert removed["geometry_area_m2"] is None


def test_the_openapi_document_declares_geometry(anonymous_api: Any) -> None:
    spec = anonymous_api.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for name in ("ObservationCreateArgs", "Observation", "ControlOperationCreateArgs", "ControlOperation"):
        assert "geometry" in schemas[name]["properties"], name
    assert "extent" in schemas["Site"]["properties"]
    assert db.session.query(Site).count() == 0


def test_a_site_carries_the_union_of_its_records_polygons(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    first = make_observation(api, area_m2=None, geometry=square(LON, LAT, 100))
    days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    # Half of it again, and 50 m beyond: the same site (within the join radius), overlapping.
    second = make_observation(
        api, area_m2=None, geometry=square(LON, LAT, 100, east_m=50), observed_at=days_ago
    )
    assert second["site_id"] == first["site_id"]
    site = api.get(f"/api/v1/sites/{first['site_id']}").get_json()
    assert site["extent"]["type"] == "Polygon"
    assert site["extent_area_m2"] == pytest.approx(15_000, rel=0.005)  # 150 m × 100 m, counted once
    api.patch(f"/api/v1/observations/{second['id']}", json={"geometry": None})
    assert api.get(f"/api/v1/sites/{first['site_id']}").get_json()["extent_area_m2"] == pytest.approx(
        10_000, rel=0.005
    )


def test_a_control_operation_takes_its_treated_polygon(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _baseline = treat(api, area_m2=None, geometry=square(LON, LAT, 100))
    assert operation["geometry_area_m2"] == pytest.approx(10_000, rel=0.005)
    assert operation["area_m2"] == operation["geometry_area_m2"]
    refused = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": "4a7f3c9e-4a52-4e0c-9a51-8a8a3e1d2b01",
            "site_id": operation["site_id"],
            "method": "hand_collection",
            "performed_at": datetime.now(UTC).isoformat(),
            "details": {"kg_removed": 3},
            "geometry": square(LON + 3, LAT, 100),
        },
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["geometry"]


def test_with_a_loaded_outline_the_polygon_must_lie_inside_it(
    app: Any, api_as: Any, observation_payload: Any
) -> None:
    boundaries.load_boundaries(
        geojson(feature("500155", DISTRICT)), "synthetic.geojson", level=BoundaryLevel.DISTRICT
    )
    api = api_as("surveyor")
    point = {"latitude": 30.65, "longitude": 107.85, "township_code": None, "area_m2": None}
    inside = api.post(
        "/api/v1/observations", json=observation_payload(**point, geometry=square(107.85, 30.65, 100))
    )
    assert inside.status_code == 201, inside.get_json()
    # 30.695 + 1 km north is past the outline's 30.70 yet well within Liangping's box.
    crossing = observation_payload(**point, geometry=square(107.85, 30.695, 1000))
    refused = api.post("/api/v1/observations", json=crossing, headers={"Accept-Language": "en"})
    assert refused.status_code == 422
    assert "outside" in refused.get_json()["errors"]["geometry"][0]


def test_an_outline_kilometres_from_the_records_point_is_refused(
    api_as: Any, observation_payload: Any
) -> None:
    """A 100 m square drawn 9.4 km from the record's point was accepted and its 15 亩 counted at the
    point's site and township. An outline beside the point (300 m off) still stands."""
    api = api_as("surveyor")
    far = square(LON, LAT, 100, east_m=8000, north_m=-5000)
    response = api.post("/api/v1/observations", json=observation_payload(area_m2=None, geometry=far))
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["geometry"]
    assert "9.3 公里" in message or "9.4 公里" in message, message
    beside = square(LON, LAT, 100, east_m=300)
    assert (
        api.post("/api/v1/observations", json=observation_payload(area_m2=None, geometry=beside)).status_code
        == 201
    )


def test_an_outline_crossing_the_edge_of_a_concave_district_is_refused(
    app: Any, api_as: Any, observation_payload: Any
) -> None:
    """An L-shaped district: a triangle with its three corners inside and an edge some 300 m across the
    missing corner was accepted (only the corners were tested)."""
    ell = [
        [107.70, 30.60], [107.90, 30.60], [107.90, 30.65], [107.80, 30.65],
        [107.80, 30.70], [107.70, 30.70], [107.70, 30.60],
    ]  # fmt: skip
    boundaries.load_boundaries(geojson(feature("500155", ell)), "d.geojson", level=BoundaryLevel.DISTRICT)
    across = {
        "type": "Polygon",
        "coordinates": [[[107.79, 30.66], [107.79, 30.64], [107.83, 30.64], [107.79, 30.66]]],
    }
    inside = {
        "type": "Polygon",
        "coordinates": [[[107.795, 30.648], [107.795, 30.645], [107.799, 30.645], [107.795, 30.648]]],
    }
    api = api_as("surveyor")
    body = observation_payload(latitude=30.646, longitude=107.796, area_m2=None, geometry=across)
    response = api.post("/api/v1/observations", json=body)
    assert response.status_code == 422, response.get_json()
    assert "geometry" in response.get_json()["errors"]
    body = observation_payload(latitude=30.646, longitude=107.796, area_m2=None, geometry=inside)
    assert api.post("/api/v1/observations", json=body).status_code == 201


def test_an_area_mismatch_is_named_and_explained_on_the_record_page(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    """The verifier reads what to check: the flag's name and the two areas, not a blank badge (or a
    page that fails for want of an explanation)."""
    far = make_observation(api_as("surveyor"), area_m2=12_500, geometry=square(LON, LAT, 100))
    assert far["flags"] == ["area_mismatch"]

    zh = web_as("verifier").get(f"/observations/{far['id']}")
    en = web_as("verifier", locale="en").get(f"/observations/{far['id']}")
    assert (zh.status_code, en.status_code) == (200, 200)
    zh_html = zh.get_data(as_text=True)
    assert "面积不符" in zh_html
    assert "18.75" in zh_html and "15.00" in zh_html  # the typed 12 500 m² and the drawn 10 000 m², in 亩
    assert "area mismatch" in en.get_data(as_text=True)


def test_every_flag_has_a_name_an_explanation_and_a_workbook_name(app: Any) -> None:
    from app.exports.labels import FLAG_ZH
    from app.observations import views

    observation = Observation(area_m2=1.0, geometry_area_m2=1.0, accuracy_m=1.0)
    for flag in Flag:
        observation.set_flag(flag)
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        explained = dict(views._flag_help(observation))
        named = {flag: str(views.FLAG_LABELS[flag]) for flag in Flag}
    assert set(explained) == set(Flag)
    assert all(named.values()) and all(explained.values())
    assert set(FLAG_ZH) >= {flag.value for flag in Flag}
