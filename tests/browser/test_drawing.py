"""The area tool on the phone (docs/maps.md, "Drawing an area"): an outline drawn by taps on the record
form with no signal and sent when the signal returns; an edge walked with a scripted GPS (a 100 m × 100 m
square at Liangping's latitude is 15.00 亩); the treated outline of a control operation; the drawing
plugin fetched only when the tool is opened."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from pyproj import Geod

from app.control.models import ControlOperation
from app.extensions import db
from app.observations.models import Observation
from tests.browser.test_capture import SENDING, _choose_species
from tests.browser.waiting import wait_until
from tests.conftest import PADDY

GEOD = Geod(ellps="WGS84")
SQUARE_METRES_PER_MU = 10_000 / 15  # 1 亩 = 666.67 m² (the definition, stated independently of app/units.py)
GEOMAN = "/vendor/geoman/"
TOOL = "document.querySelector('[data-area-tool]')"


def _geodesic_m2(ring: list[list[float]]) -> float:
    """The area of a GeoJSON ring ([lon, lat], closed) on the WGS-84 ellipsoid, computed here."""
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    area, _ = GEOD.polygon_area_perimeter(lons, lats)
    return abs(area)


def _stored(model: Any, user_field: Any, user_id: int) -> list[dict[str, Any]]:
    db.session.rollback()
    try:
        return [
            {"geometry": r.geometry, "geometry_area_m2": r.geometry_area_m2, "area_m2": r.area_m2}
            for r in db.session.scalars(sa.select(model).where(user_field == user_id)).all()
        ]
    finally:
        db.session.rollback()  # end the read: on SQLite an open transaction would block the server


def _page_loaded(page: Any, part: str) -> list[str]:
    """The files the page itself fetched whose address contains `part` (not its service worker's)."""
    names = page.evaluate("() => performance.getEntriesByType('resource').map((e) => e.name)")
    return [n for n in names if part in n]


def _tap_map(page: Any, offsets: list[tuple[int, int]]) -> None:
    """Taps on the area map at pixel offsets from its centre (a finger on a touch screen)."""
    page.locator("[data-area-map]").scroll_into_view_if_needed()
    box = page.locator("[data-area-map]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in offsets:
        page.touchscreen.tap(cx + dx, cy + dy)
        page.wait_for_timeout(400)  # a person's pace: two taps within 200 ms are a double tap (zoom)


def test_an_outline_drawn_by_taps_offline_is_sent_with_its_area(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    # The form never loaded the plugin: it comes when the tool is opened (here from the offline cache, where
    # the service worker put it with the app shell).
    assert _page_loaded(p.page, GEOMAN) == []
    assert p.page.evaluate("() => typeof (window.L && window.L.PM)") == "undefined"

    p.page.click("[data-area-draw]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="draw"]')
    assert p.page.evaluate("() => typeof window.L.PM") == "object"
    assert p.page.locator("[data-area-map]").bounding_box()["width"] <= 360
    # A 120 × 100 px rectangle at zoom 18, tapped corner by corner; a mistaken fifth tap is undone.
    corners = [(-60, -50), (60, -50), (60, 50), (-60, 50)]
    _tap_map(p.page, [(0, 0)])  # a first corner in the wrong place, undone: drawing goes on
    p.page.click("[data-area-undo]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="draw"]')
    _tap_map(p.page, corners[:3])
    wait_until(p.page, f"() => {TOOL}.dataset.areaMu !== ''")
    assert "目前" in p.page.locator("[data-area-size]").inner_text()  # live while drawing
    _tap_map(p.page, [corners[3], (0, 90)])
    p.page.click("[data-area-undo]")
    p.page.click("[data-area-finish]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="closed"]')
    shown_mu = float(p.page.locator("[data-area-tool]").get_attribute("data-area-mu"))
    # Independently: Web Mercator metres per CSS pixel at zoom 18 at this latitude.
    metres_per_px = 2 * math.pi * 6_378_137 * math.cos(math.radians(PADDY[0])) / (256 * 2**18)
    expected_m2 = (120 * metres_per_px) * (100 * metres_per_px)
    assert abs(shown_mu * SQUARE_METRES_PER_MU - expected_m2) / expected_m2 < 0.03
    assert "亩" in p.page.locator("[data-area-size]").inner_text()
    p.screenshot("area-drawn")

    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")
    assert p.page.locator("[data-area-tool]").get_attribute("data-area-state") == "none"  # the next record
    p.context.set_offline(False)
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)

    [stored] = _stored(Observation, Observation.surveyor_id, user.id)
    ring = stored["geometry"]["coordinates"][0]
    assert stored["geometry"]["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
    area = _geodesic_m2(ring)
    assert stored["geometry_area_m2"] == pytest.approx(area, rel=1e-6)
    assert stored["area_m2"] == pytest.approx(area, rel=1e-6)  # none typed: the outline's area fills it
    # What the phone showed is what the server stored (to the 0.01 亩 shown).
    assert abs(shown_mu - area / SQUARE_METRES_PER_MU) <= 0.011


def _square_walk() -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """A 100 m × 100 m square with its south-west corner at the paddy, walked north, east, south and west
    in 25 m steps and back to the start: (corners, walked points), each (lat, lon)."""
    lat, lon = PADDY
    corners = [(lat, lon)]
    walked = [(lat, lon)]
    for azimuth in (0, 90, 180, 270):
        for _ in range(4):
            lon, lat, _back = GEOD.fwd(lon, lat, azimuth, 25)
            walked.append((lat, lon))
        corners.append((lat, lon))
    return corners[:4], walked


def test_walking_the_edge_of_a_square_gives_15_mu(phone: Any, field_user: Any) -> None:
    corners, walked = _square_walk()
    # The square's area computed here: 100 m × 100 m = 10 000 m² = 15.00 亩.
    square = [[c[1], c[0]] for c in [*corners, corners[0]]]
    assert abs(_geodesic_m2(square) / SQUARE_METRES_PER_MU - 15.0) / 15.0 < 0.005

    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.click("[data-area-walk]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="walk"]')
    assert _page_loaded(p.page, GEOMAN) == []  # walking needs Leaflet only

    def move(lat: float, lon: float, accuracy: float) -> None:
        p.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": accuracy})

    tool = p.page.locator("[data-area-tool]")
    for i, (lat, lon) in enumerate(walked):
        move(lat, lon, 5)
        wait_until(p.page, f"() => {TOOL}.dataset.walkPoints === '{i + 1}'")
        if i == 6:
            # Under trees: a fix 60 m off with 80 m accuracy is not used, and the surveyor is told.
            move(lat + 0.0005, lon + 0.0005, 80)
            wait_until(p.page, f"() => {TOOL}.dataset.walkIgnored === '1'")
            assert "1" in p.page.locator("[data-area-status]").inner_text()
        if i == 7:
            move(lat + 0.00001, lon, 4)  # standing still (1 m): adds nothing
    assert tool.get_attribute("data-walk-points") == str(len(walked))
    assert "回到起点附近" in p.page.locator("[data-area-status]").inner_text()
    p.page.click("[data-area-finish]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="closed"]')
    shown_mu = float(tool.get_attribute("data-area-mu"))
    assert abs(shown_mu - 15.0) / 15.0 < 0.005
    assert "15.00" in p.page.locator("[data-area-size]").inner_text()
    p.screenshot("area-walked")

    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [stored] = _stored(Observation, Observation.surveyor_id, user.id)
    ring = stored["geometry"]["coordinates"][0]
    assert len(ring) == len(walked)  # the return to the start closes the ring instead of adding a point
    assert abs(stored["geometry_area_m2"] / SQUARE_METRES_PER_MU - 15.0) / 15.0 < 0.005
    assert stored["geometry_area_m2"] == pytest.approx(_geodesic_m2(ring), rel=1e-6)


def test_a_control_operation_carries_its_treated_outline(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor")
    record = make_observation(api_as(user.user))
    db.session.rollback()
    p = phone()
    # The phone's fix is held until the test lets it go, as a phone's GPS takes a moment to answer.
    p.page.add_init_script(
        """(() => {
            const geo = navigator.geolocation;
            const get = geo.getCurrentPosition.bind(geo);
            let release;
            window.__fixGate = new Promise((resolve) => { release = resolve; });
            window.__releaseFix = () => release();
            geo.getCurrentPosition = (ok, fail, options) =>
                get(async (position) => { await window.__fixGate; ok(position); }, fail, options);
        })();"""
    )
    p.sign_in(user.username)
    p.goto(f"/control-operations/new?observation_id={record['id']}")
    p.page.wait_for_selector("form[data-ready]")
    # The control form has no map of its own: Leaflet and the plugin both come with the tool.
    assert p.page.evaluate("() => typeof window.L") == "undefined"
    p.page.click("[data-area-draw]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="draw"]')
    wait_until(p.page, "() => window.L.PM !== undefined")
    # The map goes to the phone's position (no fix on this form). The tool marks data-area-located when
    # that move has ended with the map's centre on the position, so the taps below land around it; not
    # before the phone has answered.
    assert p.page.locator("[data-area-tool]").get_attribute("data-area-located") is None
    p.page.evaluate("window.__releaseFix()")
    wait_until(p.page, f"() => {TOOL}.dataset.areaLocated === '1'")
    _tap_map(p.page, [(-50, -50), (50, -50), (0, 50)])
    p.page.click("[data-area-finish]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="closed"]')
    p.page.select_option('select[name="method"]', "hand_collection")
    p.page.fill('input[name="details.kg_removed"]', "2")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [stored] = _stored(ControlOperation, ControlOperation.operator_id, user.id)
    ring = stored["geometry"]["coordinates"][0]
    assert len(ring) == 4
    # Taps 50 px from the centre at zoom 18 are some 30 m from the phone (at the district view, km).
    lat, lon = PADDY
    assert all(abs(y - lat) < 0.001 and abs(x - lon) < 0.001 for x, y in ring), ring
    assert stored["geometry_area_m2"] == pytest.approx(_geodesic_m2(ring), rel=1e-6)
    assert stored["area_m2"] == pytest.approx(stored["geometry_area_m2"], rel=1e-6)


def test_the_records_map_shows_species_colours_found_shares_and_areas(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, species_id: Any
) -> None:
    user = field_user("surveyor")
    api = api_as(user.user)
    lat, lon = PADDY
    corners, _walked = _square_walk()
    square = [[c[1], c[0]] for c in [*corners, corners[0]]]
    snail = make_observation(api, geometry={"type": "Polygon", "coordinates": [square]}, area_m2=None)
    absent = {"detected": False, "density_per_m2": None, "egg_masses_per_m2": None, "area_m2": None}
    make_observation(api, latitude=lat + 0.0002, longitude=lon + 0.0002, **absent)
    make_observation(
        api,
        species_id=species_id("alternanthera-philoxeroides"),
        latitude=lat + 0.0004,
        longitude=lon - 0.0003,
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=35,
    )
    db.session.rollback()

    p = phone()
    p.sign_in(user.username)
    p.goto("/map")
    p.page.wait_for_selector("[data-map][data-ready]")
    p.page.select_option('select[name="layer"]', "observations")
    # The district view: one cluster of three, two of them found, and the legend says how to read it.
    wait_until(p.page, "() => Number(document.querySelector('[data-map]').dataset.clusters) >= 1")
    cluster = p.page.locator(".map-cluster")
    expect(cluster).to_have_count(1)
    assert (cluster.get_attribute("data-count"), cluster.get_attribute("data-found")) == ("3", "2")
    assert "发现 2 条，未发现 1 条" in (cluster.get_attribute("title") or "")
    legend = p.page.locator("[data-map-legend]")
    assert "实心点" in legend.inner_text() and "空心圈" in legend.inner_text()

    # Zoomed in on the paddy: the points in their species' colours, the absence a ring, the outline drawn.
    p.goto("/")
    p.goto(f"/map#{lat + 0.0004},{lon + 0.0004}")
    p.page.wait_for_selector("[data-map][data-ready]")
    p.page.select_option('select[name="layer"]', "observations")
    wait_until(p.page, "() => Number(document.querySelector('[data-map]').dataset.markers) === 3")
    assert p.page.locator("[data-map]").get_attribute("data-areas") == "1"
    colours = legend.locator("[data-legend-colour]")
    expect(colours).to_have_count(2)  # one row per species in view, each with its own colour
    names = colours.all_inner_texts()
    assert any("福寿螺" in n for n in names) and any("喜旱莲子草" in n for n in names)
    swatches = {r.get_attribute("data-legend-colour") for r in colours.all()}
    assert len(swatches) == 2
    # The outline's popup gives its area in 亩: the 100 m square is 15.00 亩.
    outline = p.page.locator(".leaflet-overlay-pane path.leaflet-interactive").first.bounding_box()
    p.page.touchscreen.tap(outline["x"] + outline["width"] * 0.85, outline["y"] + outline["height"] * 0.15)
    popup = p.page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("面积 15.00 亩")
    assert snail["geometry_area_m2"] == pytest.approx(_geodesic_m2(square), rel=1e-6)
    p.screenshot("map-species-areas")


def test_the_edit_form_shows_the_stored_outline_without_the_plugin(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    corners, _walked = _square_walk()
    square = [[c[1], c[0]] for c in [*corners, corners[0]]]
    user = field_user("surveyor")
    record = make_observation(api_as(user.user), geometry={"type": "Polygon", "coordinates": [square]})
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.goto(f"/observations/{record['id']}/edit")
    p.page.wait_for_selector("form[data-ready]")
    p.page.wait_for_selector('[data-area-tool][data-area-state="closed"]')
    assert p.page.locator("[data-area-tool]").get_attribute("data-area-mu") == "15.00"
    wait_until(p.page, "() => document.querySelectorAll('[data-area-map] path.leaflet-interactive').length")
    assert _page_loaded(p.page, GEOMAN) == []
    # Cleared and saved: the edit sends the outline's removal, and the record keeps no polygon.
    p.page.click("[data-area-clear]")
    assert p.page.locator("[data-area-tool]").get_attribute("data-area-state") == "none"
    p.page.click('button[type="submit"]')
    p.page.wait_for_url(f"{p.base_url}/observations/{record['id']}", timeout=SENDING)  # sent: the record
    [stored] = _stored(Observation, Observation.surveyor_id, user.id)
    assert stored["geometry"] is None and stored["geometry_area_m2"] is None
