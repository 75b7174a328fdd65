"""The maps without a basemap (IAS_BASEMAP=none, the browser tests' setting): the loaded outlines with
township names, the legend, the scale bar and "my location"; the records map's clusters from the server,
which become points when zoomed in (docs/contract.md §5, the map budget)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from app.district import boundaries
from app.district.models import BoundaryLevel
from app.extensions import db
from tests.browser.waiting import wait_until
from tests.conftest import PADDY
from tests.geo.synthetic import feature, geojson, square


def _load_boundaries() -> None:
    # Made-up squares around the paddy (the project never invents real boundaries; these are the tests').
    lat, lon = PADDY
    west = square(lon - 0.30, lat - 0.25, lon, lat + 0.20)
    east = square(lon, lat - 0.25, lon + 0.28, lat + 0.20)
    whole = square(lon - 0.30, lat - 0.25, lon + 0.28, lat + 0.20)
    boundaries.load_boundaries(geojson(feature("500155", whole)), "d.geojson", level=BoundaryLevel.DISTRICT)
    boundaries.load_boundaries(
        geojson(feature("500155001", west), feature("500155002", east)),
        "t.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    db.session.commit()
    db.session.rollback()  # end the read: on SQLite an open transaction here would block the server


def test_map_without_basemap_shows_outlines_legend_scale_and_clusters(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    _load_boundaries()
    surveyor = field_user("surveyor")
    api = api_as(surveyor.user)
    lat, lon = PADDY
    for i in range(3):
        make_observation(api, latitude=lat + 0.0003 * i, longitude=lon + 0.0003 * i)
    make_observation(api, latitude=lat + 0.05, longitude=lon + 0.06, township_code="500155002")

    p = phone()
    p.sign_in(surveyor.username)
    p.goto("/map")
    p.page.wait_for_selector("[data-map][data-ready]")
    assert p.page.locator(".leaflet-tile").count() == 0  # no basemap at all
    wait_until(p.page, "() => Number(document.querySelector('[data-map]').dataset.outlines) === 3")
    assert p.page.locator(".leaflet-outlines-pane path").count() == 3
    wait_until(p.page, "() => document.querySelectorAll('.outline-label').length >= 2")
    labels = p.page.locator(".outline-label").all_inner_texts()
    assert "梁山街道" in labels and "双桂街道" in labels
    legend = p.page.locator("[data-map-legend]")
    assert legend.is_visible() and "图例" in legend.inner_text()
    assert p.page.locator(".leaflet-control-scale-line").is_visible()
    # Leaflet's own buttons speak the page's language too (app/static/js/mapkit.js, `newMap`).
    expect(p.page.locator(".leaflet-control-zoom-in")).to_have_attribute("title", "放大")
    expect(p.page.locator(".leaflet-control-zoom-out")).to_have_attribute("title", "缩小")
    p.screenshot("map-outlines-no-basemap")

    # Records: clusters with counts at the district zoom, never every point.
    p.page.select_option('select[name="layer"]', "observations")
    wait_until(p.page, "() => Number(document.querySelector('[data-map]').dataset.clusters) >= 1")
    counts = [
        int(c) for c in p.page.locator(".map-cluster").evaluate_all("els => els.map(e => e.dataset.count)")
    ]
    assert sum(counts) == 4 and max(counts) >= 3
    assert p.page.locator("[data-map]").get_attribute("data-markers") == "0"
    assert "发现" in legend.inner_text() and "未发现" in legend.inner_text()
    p.screenshot("map-clusters")
    # Tapping the paddy's cluster zooms in on it until its records are points.
    biggest = "els => els.findIndex((e) => Number(e.dataset.count) >= 3)"
    for _ in range(5):
        if int(p.page.locator("[data-map]").get_attribute("data-markers") or 0) > 0:
            break
        loads = p.page.locator("[data-map]").get_attribute("data-loads")
        p.page.locator(".map-cluster").nth(
            p.page.locator(".map-cluster").evaluate_all(biggest)
        ).dispatch_event("click")
        wait_until(p.page, f"() => document.querySelector('[data-map]').dataset.loads !== '{loads}'")
    wait_until(p.page, "() => Number(document.querySelector('[data-map]').dataset.markers) === 3")
    assert p.page.locator(".map-cluster").count() == 0
    assert p.page.locator("[data-map-list] li").count() == 3
    p.screenshot("map-points-zoomed-in")
    # My location: the browser's position (the test context's geolocation) with its accuracy circle
    # (it centres the map on the phone's position).
    p.page.locator("[data-map-locate]").click()
    wait_until(p.page, "() => document.querySelector('[data-map]').dataset.located === '6'")
