"""Saving a township's basemap for offline use, server side (app/main/offline_tiles.py): the basemap settings,
the estimate per zoom, the plan of tiles, the cap, and every refusal naming its field. The phone side (the
download, the service worker, the map offline) is tests/browser/test_offline_tiles.py."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from shapely.geometry import box

from app import create_app
from app.config import ConfigError, load_config
from app.district import boundaries
from app.district.models import BoundaryLevel
from app.extensions import db
from app.geo import tiles
from tests.conftest import TEST_CONFIG
from tests.geo.synthetic import feature, geojson, square

TEMPLATE = "https://{s}.tiles.example.cn/base/{z}/{x}/{y}.png"
WEST = (107.70, 30.60, 107.74, 30.63)  # 梁山街道 500155001 in these tests (made up, not its real outline)


@pytest.fixture
def tile_basemap(app: Flask) -> Iterator[dict[str, Any]]:
    """The app with the bureau's own tile server as its basemap (settings as an operator gives them)."""
    keys = (
        "IAS_BASEMAP",
        "IAS_BASEMAP_SUBDOMAINS",
        "IAS_BASEMAP_TILE_KB",
        "IAS_OFFLINE_TILES_MAX",
        "IAS_BASEMAP_MAX_ZOOM",
    )
    saved = {key: app.config[key] for key in keys}
    settings = load_config(
        {"IAS_BASEMAP": TEMPLATE, "IAS_BASEMAP_TILE_KB": "20", "IAS_OFFLINE_TILES_MAX": "400"}
    )
    app.config.update({key: settings[key] for key in keys})
    yield app.config
    app.config.update(saved)


def _load_west() -> None:
    boundaries.load_boundaries(
        geojson(feature("500155001", square(*WEST))), "t.geojson", level=BoundaryLevel.TOWNSHIP
    )
    db.session.flush()


def brute_force_count(area: Any, zoom: int) -> int:
    n = 2**zoom
    west, south, east, north = area.bounds
    total = 0
    for x in range(math.floor((west + 180) / 360 * n), math.floor((east + 180) / 360 * n) + 1):
        for y in range(n):
            w, s, e, nn = tiles.tile_bounds(zoom, x, y)
            if not (nn < south or s > north) and box(w, s, e, nn).intersects(area):
                total += 1
    return total


# ---------------------------------------------------------------------------------------------------------
# Settings


def test_basemap_may_be_a_tile_server_url_template() -> None:
    config = load_config({"IAS_BASEMAP": TEMPLATE, "IAS_BASEMAP_ATTRIBUTION": "© 局"})
    app = create_app({**TEST_CONFIG, **{k: config[k] for k in config if k.startswith("IAS_BASEMAP")}})
    csp = app.test_client().get("/sign-in").headers["Content-Security-Policy"]
    parts = dict(part.split(" ", 1) for part in csp.split("; "))
    assert parts["img-src"] == "'self' data: blob: https://*.tiles.example.cn"
    # The service worker answers tile requests, and saving fetches them: allowed as fetches too.
    assert parts["connect-src"] == "'self' https://*.tiles.example.cn"
    with app.test_request_context():
        from app.main.maps import basemap_layers

        [layer] = basemap_layers()
    assert layer["url"] == TEMPLATE and layer["attribution"] == "© 局" and layer["subdomains"] == "abc"


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"IAS_BASEMAP": "google"}, "IAS_BASEMAP must be osm, tianditu, none or a tile URL template"),
        ({"IAS_BASEMAP": "https://t.example.cn/{z}/{x}.png"}, r"lacks \{y\}"),
        ({"IAS_BASEMAP": "https://t.example.cn/{z}/{x}/{y}.png?tk={key}"}, r"not \{key\}"),
        ({"IAS_BASEMAP": "http://t.example.cn/{z}/{x}/{y}.png"}, "https://"),
        ({"IAS_BASEMAP": "https://127.0.0.1:8080/{z}/{x}/{y}.png"}, "IAS_BASEMAP_ALLOWED_HOSTS"),
        ({"IAS_BASEMAP": "https://10.2.3.4/{z}/{x}/{y}.png"}, "IAS_BASEMAP_ALLOWED_HOSTS"),
        ({"IAS_BASEMAP": "https://localhost/{z}/{x}/{y}.png"}, "IAS_BASEMAP_ALLOWED_HOSTS"),
        ({"IAS_OFFLINE_TILES_MAX": "-1"}, "IAS_OFFLINE_TILES_MAX"),
        ({"IAS_OFFLINE_TILES_MAX": "many"}, "IAS_OFFLINE_TILES_MAX"),
        ({"IAS_BASEMAP_MAX_ZOOM": "30"}, "IAS_BASEMAP_MAX_ZOOM"),
    ],
)
def test_bad_basemap_settings_stop_the_start(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load_config(env)


def test_a_loopback_or_http_tile_server_needs_the_operator_to_name_it() -> None:
    template = "http://127.0.0.1:8123/tiles/{z}/{x}/{y}.png"
    with pytest.raises(ConfigError):
        load_config({"IAS_BASEMAP": template})
    config = load_config({"IAS_BASEMAP": template, "IAS_BASEMAP_ALLOWED_HOSTS": "127.0.0.1:8123"})
    assert config["IAS_BASEMAP"] == template
    assert load_config({})["IAS_BASEMAP_ALLOWED_HOSTS"] == []  # nothing is exempt by default


# ---------------------------------------------------------------------------------------------------------
# The estimate and the plan


def test_estimate_per_zoom_for_a_township_with_its_outline(web_as: Any, tile_basemap: Any) -> None:
    _load_west()
    web = web_as("surveyor")
    response = web.get("/app/offline-tiles?area=500155001")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["available"] is True and body["reason"] is None
    assert body["area"] == {"code": "500155001", "name": "梁山街道", "source": "township"}
    assert body["cap"] == 400 and body["concurrency"] == 4
    # Every zoom up to the first that alone is over the cap (the ones above could never be saved).
    over = next(z for z in range(8, 19) if tiles.count(tiles.tile_rows(box(*WEST), z)) > 400)
    assert [row["zoom"] for row in body["zooms"]] == list(range(8, over + 1))
    area = box(*WEST)
    for row in body["zooms"]:
        if row["zoom"] <= 15:  # checked tile by tile (the higher zooms take long that way)
            assert row["tiles"] == brute_force_count(area, row["zoom"]), row
        assert row["requests"] == row["tiles"]  # one layer
        assert row["bytes"] == row["tiles"] * 20 * 1024
    counts = [row["tiles"] for row in body["zooms"]]
    assert counts == sorted(counts) and counts[-1] > 400 >= counts[-2]


def test_plan_lists_the_rows_of_tiles_for_the_chosen_zooms(web_as: Any, tile_basemap: Any) -> None:
    _load_west()
    web = web_as("surveyor")
    body = web.get("/app/offline-tiles?area=500155001&min_zoom=12&max_zoom=14").json
    plan = body["plan"]
    assert (plan["min_zoom"], plan["max_zoom"]) == (12, 14)
    assert sorted(plan["rows"]) == ["12", "13", "14"]
    area = box(*WEST)
    for zoom, rows in plan["rows"].items():
        expected = brute_force_count(area, int(zoom))
        assert sum(last - first + 1 for _y, first, last in rows) == expected
    assert plan["tiles"] == plan["requests"] == sum(brute_force_count(area, z) for z in (12, 13, 14))
    assert body["layers"] == [{"url": TEMPLATE, "subdomains": "abc", "tile_kb": 20.0}]


def test_a_plan_over_the_cap_is_refused_naming_max_zoom(web_as: Any, tile_basemap: Any) -> None:
    _load_west()
    web = web_as("surveyor")
    response = web.get("/app/offline-tiles?area=500155001&min_zoom=12&max_zoom=18")
    assert response.status_code == 422
    message = response.json["errors"]["max_zoom"][0]
    expected = sum(brute_force_count(box(*WEST), z) for z in range(12, 16))  # 16–18 below, by rows
    expected += sum(tiles.count(tiles.tile_rows(box(*WEST), z)) for z in (16, 17, 18))
    assert f"{expected}" in message and "400" in message
    assert "plan" not in response.json


def test_a_plan_past_the_estimate_is_over_the_cap_uncounted(
    web_as: Any, tile_basemap: Any, app: Flask
) -> None:
    _load_west()
    app.config["IAS_OFFLINE_TILES_MAX"] = 100
    web = web_as("surveyor")
    counts = {z: brute_force_count(box(*WEST), z) for z in range(8, 18)}
    first_over = min(z for z, n in counts.items() if n > 100)
    body = web.get("/app/offline-tiles?area=500155001").json
    assert body["zooms"][-1]["zoom"] == first_over < 18
    exact = web.get(f"/app/offline-tiles?area=500155001&min_zoom=12&max_zoom={first_over}")
    assert exact.status_code == 422
    assert f"这次将保存 {sum(counts[z] for z in range(12, first_over + 1))} 张瓦片" in exact.json["message"]
    past = web.get("/app/offline-tiles?area=500155001&min_zoom=12&max_zoom=18")
    assert past.status_code == 422
    assert past.json["errors"]["max_zoom"] == [
        "这次将保存的瓦片超过单次上限 100 张：请少选几个缩放级别，或选更小的范围。"
    ]


def test_a_township_without_an_outline_falls_back_to_the_district(web_as: Any, tile_basemap: Any) -> None:
    web = web_as("surveyor")
    body = web.get("/app/offline-tiles?area=500155002").json
    # No boundaries loaded in this test: the district's bounding box.
    assert body["area"]["source"] == "box" and body["area"]["name"] == "双桂街道"
    _load_west()  # one township of 33 is not the district: its box still stands
    assert web.get("/app/offline-tiles?area=500155002").json["area"]["source"] == "box"
    boundaries.load_boundaries(
        geojson(feature("500155", square(*WEST))), "d.geojson", level=BoundaryLevel.DISTRICT
    )
    db.session.flush()
    body = web.get("/app/offline-tiles?area=500155002").json
    assert body["area"]["source"] == "district"
    assert body["zooms"][-1]["tiles"] == tiles.count(tiles.tile_rows(box(*WEST), body["zooms"][-1]["zoom"]))
    whole = web.get("/app/offline-tiles?area=district").json
    assert whole["area"]["code"] == "district" and whole["zooms"] == body["zooms"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "area"),
        ("area=999999999", "area"),
        ("area=" + "9" * 30, "area"),
        ("area=500155001&min_zoom=12", "max_zoom"),
        ("area=500155001&max_zoom=12", "min_zoom"),
        ("area=500155001&min_zoom=14&max_zoom=12", "min_zoom"),
        ("area=500155001&min_zoom=3&max_zoom=12", "min_zoom"),
        ("area=500155001&min_zoom=12&max_zoom=19", "max_zoom"),
        ("area=500155001&min_zoom=twelve&max_zoom=14", "min_zoom"),
        ("area=500155001&min_zoom=12&max_zoom=99999999999999999999", "max_zoom"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(web_as: Any, tile_basemap: Any, query: str, field: str) -> None:
    response = web_as("surveyor").get(f"/app/offline-tiles?{query}")
    assert response.status_code == 422, response.json
    assert field in response.json["errors"], response.json
    label = {"area": "保存范围", "min_zoom": "最小缩放级别", "max_zoom": "最大缩放级别"}[field]
    assert response.json["code"] == 422 and label in response.json["message"]
    # Said in the user's language (Chinese by default), not marshmallow's English.
    [reason] = response.json["errors"][field]
    assert re.search(r"[\u4e00-\u9fff]", reason), reason


def test_public_openstreetmap_tiles_are_never_saved(web_as: Any, app: Flask) -> None:
    saved = app.config["IAS_BASEMAP"]
    app.config["IAS_BASEMAP"] = "osm"
    try:
        web = web_as("surveyor")
        body = web.get("/app/offline-tiles?area=500155001").json
        assert body["available"] is False and "OpenStreetMap" in body["reason"]
        refused = web.get("/app/offline-tiles?area=500155001&min_zoom=12&max_zoom=13")
        assert refused.status_code == 409 and "plan" not in refused.json
        page = web.get("/map/offline").get_data(as_text=True)
        assert "data-tiles-refusal" in page and "data-tiles-form" not in page
    finally:
        app.config["IAS_BASEMAP"] = saved


def test_saving_can_be_turned_off_and_needs_a_basemap(web_as: Any, tile_basemap: Any, app: Flask) -> None:
    web = web_as("surveyor")
    app.config["IAS_OFFLINE_TILES_MAX"] = 0
    assert web.get("/app/offline-tiles?area=500155001").json["available"] is False
    app.config["IAS_BASEMAP"] = "none"
    body = web.get("/app/offline-tiles?area=500155001").json
    assert body["available"] is False and body["zooms"] == []


def test_the_page_offers_every_township_and_the_zooms(web_as: Any, tile_basemap: Any) -> None:
    _load_west()
    html = web_as("surveyor").get("/map/offline").get_data(as_text=True)
    assert 'value="500155001">梁山街道</option>' in html
    assert "双桂街道 （未加载边界：按全区范围）" in html
    assert 'name="max_zoom"' in html and '<option value="18"' in html and '<option value="19"' not in html
    assert "js/tiles.js" in html


def test_the_service_worker_answers_saved_tiles(client: Any) -> None:
    body = client.get("/sw.js").get_data(as_text=True)
    assert 'const TILE_CACHE_PREFIX = "ias-tiles-"' in body and "tiles-changed" in body


def test_tianditu_counts_both_layers(web_as: Any, app: Flask) -> None:
    saved = {key: app.config[key] for key in ("IAS_BASEMAP", "IAS_TIANDITU_KEY")}
    app.config.update(IAS_BASEMAP="tianditu", IAS_TIANDITU_KEY="k")
    try:
        _load_west()
        body = web_as("surveyor").get("/app/offline-tiles?area=500155001&min_zoom=12&max_zoom=13").json
    finally:
        app.config.update(saved)
    assert body["available"] is True
    assert [layer["subdomains"] for layer in body["layers"]] == ["01234567", "01234567"]
    count = sum(brute_force_count(box(*WEST), z) for z in (12, 13))
    # The map and its labels: two images a tile, 12 KB and 5 KB typical.
    assert body["plan"]["tiles"] == count and body["plan"]["requests"] == 2 * count
    assert body["plan"]["bytes"] == count * (12 + 5) * 1024
    for row in body["zooms"]:
        assert row["requests"] == 2 * row["tiles"]
