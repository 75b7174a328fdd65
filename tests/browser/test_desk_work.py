"""Verifiers, supervisors and bureau clerks in a real browser: review, dashboard, map, exports, admin."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.test_field_work import _record
from tests.browser.waiting import wait_until


def test_verifier_returns_a_record_and_the_surveyor_sees_why(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    surveyor = field_user("surveyor")
    verifier = field_user("verifier")
    record = make_observation(api_as(surveyor.user), notes="稻田边沟，卵块多")
    why = "照片看不清卵块，请补拍近景后重新提交"

    desk = phone(viewport={"width": 1280, "height": 900}, is_mobile=False, has_touch=False)
    desk.sign_in(verifier.username)
    desk.goto("/review")
    item = desk.page.locator(f'form[action="/observations/{record["id"]}/review"]')
    item.locator('input[name="decision"][value="returned"]').check()
    item.locator('textarea[name="comment"]').fill(why)
    desk.screenshot("review-queue")
    item.locator('button[type="submit"]').click()
    desk.page.wait_for_selector(".flash")
    assert desk.page.locator(f'form[action="/observations/{record["id"]}/review"]').count() == 0

    p = phone()
    p.sign_in(surveyor.username)
    p.goto(f"/observations/{record['id']}")
    assert why in p.page.locator("main").inner_text()
    assert p.page.locator(".badge.returned").count() >= 1
    p.screenshot("observation-returned")
    p.goto("/notifications")
    assert why in p.page.locator("main").inner_text()
    p.screenshot("notifications")


def test_supervisor_dashboard_shows_an_overdue_follow_up(
    phone: Any, field_user: Any, api_as: Any, treat: Any
) -> None:
    surveyor = field_user("surveyor", organization="forestry")
    supervisor = field_user("supervisor", organization="forestry")
    operation, _baseline = treat(api_as(surveyor.user), method="chemical", days_ago=10)
    overdue = [f for f in operation["follow_ups"] if f["overdue"]]
    assert overdue

    p = phone()
    p.sign_in(supervisor.username)
    p.goto("/dashboard")
    assert p.page.locator('[data-figure="overdue"]').inner_text() == str(len(overdue))
    assert "梁山街道" in p.page.locator("#overdue-by-township").inner_text()
    p.screenshot("dashboard")
    p.page.locator('[data-figure="overdue"]').click()
    p.page.wait_for_selector("[data-follow-ups]")
    assert p.page.locator("[data-follow-ups] li").count() == len(overdue)
    assert p.page.locator("[data-follow-ups] .badge.overdue").count() == len(overdue)
    p.screenshot("follow-ups-overdue")


def test_map_shows_sites_and_records_behind_sign_in(phone: Any, field_user: Any) -> None:
    surveyor = field_user("surveyor")
    p = phone()
    p.sign_in(surveyor.username)
    p.goto("/observations/new")
    _record(p, density="9")
    # Sent, not only saved on the phone: leaving the page earlier would race the upload against the map's
    # own request for the sites (the outbox sends it again on the next page, but perhaps after the map).
    p.page.wait_for_selector("[data-form-result] a")
    p.goto("/map")
    p.page.wait_for_selector("[data-map][data-ready]")
    assert int(p.page.locator("[data-map]").get_attribute("data-markers") or 0) >= 1
    p.page.select_option('select[name="layer"]', "observations")
    wait_until(p.page, "() => document.querySelector('[data-map]').dataset.markers !== undefined")
    p.screenshot("map")
    # The map's data is the signed-in API: a stranger gets nothing.
    stranger = phone()
    response = stranger.page.request.get(stranger.base_url + "/api/v1/observations/geojson")
    assert response.status == 401


def test_position_can_be_set_on_the_map(phone: Any, field_user: Any) -> None:
    surveyor = field_user("surveyor")
    p = phone(permissions=[])  # location refused: the map is the way to give the position
    p.sign_in(surveyor.username)
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")
    p.page.wait_for_selector('form[data-gps="denied"]')
    p.page.wait_for_selector("[data-position-map][data-map-ready='1']")  # Leaflet comes after the form
    p.page.locator("[data-position-map]").click(position={"x": 120, "y": 80})
    p.page.click("[data-map-confirm]")  # a tap on the map only proposes the point
    p.page.wait_for_selector('form[data-gps="map"]')
    p.page.fill("[data-species-search]", "空心莲子草")
    p.page.locator("[data-species-option]").first.click()
    assert p.page.locator('[data-metric="cover"]').is_visible()  # a plant is recorded by cover
    p.page.fill('input[name="cover_pct"]', "35")
    p.page.click('button[type="submit"]')
    p.page.wait_for_selector("[data-form-result] a")
    href = p.page.locator("[data-form-result] a").get_attribute("href") or ""
    p.goto(href)
    assert "35" in p.page.locator("main").inner_text()


def test_bureau_pages_at_phone_size(phone: Any, field_user: Any) -> None:
    clerk = field_user("bureau_admin", organization="agriculture")
    p = phone()
    p.sign_in(clerk.username)
    for path, name in (
        ("/exports", "exports"),
        ("/admin/users", "admin-users"),
        ("/admin/species-lists", "admin-species-lists"),
        ("/observations?scope=all", "records"),
        ("/control-operations/new", "control-operation"),
    ):
        response = p.goto(path)
        assert response is not None and response.status == 200, path
        p.screenshot(name)


def test_with_the_osm_basemap_only_its_tiles_come_from_outside(phone: Any, field_user: Any, app: Any) -> None:
    surveyor = field_user("surveyor")
    app.config["IAS_BASEMAP"] = "osm"  # the CSP of this app already allows its tile host
    try:
        p = phone(allowed_hosts=("tile.openstreetmap.org",))
        tiles: list[str] = []

        def serve_blank_tile(route: Any) -> None:
            tiles.append(route.request.url)
            route.fulfill(status=204)

        p.context.route("https://tile.openstreetmap.org/**", serve_blank_tile)
        p.sign_in(surveyor.username)
        p.goto("/map")
        p.page.wait_for_selector("[data-map][data-ready]")
        wait_until(p.page, "() => document.querySelectorAll('.leaflet-tile').length > 0")
    finally:
        app.config["IAS_BASEMAP"] = "none"
    assert tiles and all(t.startswith("https://tile.openstreetmap.org/") for t in tiles)
    # Tiles are fetched without our cookies or the points: only z/x/y leaves the site.
    assert all(re.fullmatch(r"https://tile\.openstreetmap\.org/\d+/\d+/\d+\.png", t) for t in tiles), tiles
