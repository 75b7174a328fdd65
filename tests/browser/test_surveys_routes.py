"""Walking 踏查 routes on a phone in real Chromium (docs/surveys.md, Routes): GPS fixes scripted with
Playwright's geolocation, a record along the route with the campaign's other target in the same save, the
route stopped with its remaining target confirmed absent, a route walked offline and sent later, and a
reload in the middle of a route that keeps its points."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.observations.models import Observation
from app.surveys.models import Route
from tests.browser.test_accessibility import _violations, axe_source
from tests.browser.test_capture import SENDING, _choose_species
from tests.browser.waiting import wait_until
from tests.conftest import PADDY
from tests.surveys.routes_fixtures import haversine_m, make_campaign

__all__ = ["axe_source"]  # the fixture, used by name


@pytest.fixture
def walker(field_user: Any, species_id: Any) -> Any:
    """A forestry surveyor with a campaign (targets 福寿螺 and 喜旱莲子草) whose one unit is theirs."""
    person = field_user("surveyor", organization="forestry")
    ids = (species_id("pomacea-canaliculata"), species_id("alternanthera-philoxeroides"))
    campaign = make_campaign(person.user, "forestry", ids, name="梁平 2026 普查")
    person.campaign_id = campaign.id
    person.unit_id = campaign.units[0].id
    person.targets = ids
    db.session.commit()
    db.session.rollback()
    return person


def _step(i: int) -> tuple[float, float]:
    """The i-th fix of a walk north-east from the paddy, about 20 m apart."""
    return PADDY[0] + i * 0.00013, PADDY[1] + i * 0.00015


def _walk(p: Any, steps: range) -> None:
    """Move the phone along the walk; each new position is one more point on the route page."""
    for i in steps:
        lat, lon = _step(i)
        before = int(p.page.locator("[data-route-app]").get_attribute("data-points") or 0)
        p.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 5})
        _points_at_least(p, before + 1)


def _points_at_least(p: Any, n: int) -> None:
    wait_until(p.page, f"() => Number(document.querySelector('[data-route-app]').dataset.points) >= {n}")


def _start(p: Any) -> None:
    """Start a route where the phone stands (the paddy, step 0): its first point."""
    p.goto("/surveys/routes/new")
    p.page.wait_for_selector("[data-route-app][data-ready]")
    p.page.click("[data-route-start]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "running")
    _points_at_least(p, 1)


def _routes_of(user_id: int) -> list[dict[str, Any]]:
    db.session.rollback()
    try:
        return [
            {
                "id": r.id,
                "client_uuid": r.client_uuid,
                "points": r.points,
                "length_m": r.length_m,
                "campaign_id": r.campaign_id,
                "unit_id": r.unit_id,
                "duration_s": r.duration_s,
                "moving_s": r.moving_s,
                "pauses": r.pauses,
                "dropped_point_count": r.dropped_point_count,
            }
            for r in db.session.scalars(sa.select(Route).where(Route.surveyor_id == user_id))
        ]
    finally:
        db.session.rollback()


def _records_of(user_id: int) -> list[dict[str, Any]]:
    db.session.rollback()
    try:
        return [
            {
                "species_id": o.species_id,
                "detected": o.detected,
                "route_uuid": o.route_uuid,
                "campaign_id": o.campaign_id,
                "latitude": o.latitude,
                "longitude": o.longitude,
                "density_per_m2": o.density_per_m2,
                "notes": o.notes,
            }
            for o in db.session.scalars(
                sa.select(Observation).where(Observation.surveyor_id == user_id).order_by(Observation.id)
            )
        ]
    finally:
        db.session.rollback()


def _wait_sent(p: Any) -> None:
    p.goto("/")
    p.app_ready()
    p.page.click("[data-sync-now]")
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])", timeout=SENDING)


def _length(points: list[dict[str, Any]]) -> float:
    return sum(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) for a, b in itertools.pairwise(points))


def test_a_route_walked_with_records_of_several_targets_and_absences_confirmed(
    phone: Any, walker: Any
) -> None:
    p = phone()
    p.sign_in(walker.username)
    _start(p)
    expect(p.page.locator("[data-route-wake]")).not_to_be_empty()  # wake lock held, or the fallback said
    _walk(p, range(1, 5))

    # A record along the route: 福寿螺 found with its density, the other target (喜旱莲子草) searched and
    # not found at the same point, in one save.
    p.page.click("[data-route-record]")
    _choose_species(p.page)
    expect(p.page.locator("[data-route-banner]")).to_contain_text("梁平 2026 普查")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "7")
    target = f"[data-target-choice='{walker.targets[1]}']"
    expect(p.page.locator("[data-route-targets] [data-target]")).to_have_count(1)  # not the chosen one
    p.page.select_option(target, "false")
    p.page.click('button[type="submit"]')
    # "Saved on this phone with 1 more record", or already "sent" when the signal is quick.
    expect(p.page.locator("[data-form-result]")).to_contain_text(re.compile("1|发送"))
    # The route goes on recording on the record form.
    p.context.set_geolocation({"latitude": _step(5)[0], "longitude": _step(5)[1], "accuracy": 5})

    p.goto("/surveys/routes/new")
    p.page.wait_for_selector("[data-route-app][data-ready]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "running")
    _walk(p, range(6, 9))
    points_on_phone = int(p.page.locator("[data-route-app]").get_attribute("data-points") or 0)
    assert points_on_phone == 9

    # Stop: 福寿螺 was found along it, so only 喜旱莲子草 is offered, ticked.
    p.page.click("[data-route-stop]")
    boxes = p.page.locator("[data-absent-species]")
    expect(boxes).to_have_count(1)
    expect(boxes).to_be_checked()
    assert boxes.get_attribute("value") == str(walker.targets[1])
    p.page.click("[data-route-finish]")
    expect(p.page.locator("[data-route-done]")).to_contain_text("1")
    _wait_sent(p)

    [route] = _routes_of(walker.id)
    assert (route["campaign_id"], route["unit_id"]) == (walker.campaign_id, walker.unit_id)
    assert len(route["points"]) == 9
    assert [(pt["lat"], pt["lon"]) for pt in route["points"]] == [
        pytest.approx(_step(i), abs=1e-9) for i in range(9)
    ]
    assert route["length_m"] == pytest.approx(_length(route["points"]), rel=5e-3)
    records = _records_of(walker.id)
    assert {(r["species_id"], r["detected"]) for r in records} == {
        (walker.targets[0], True),
        (walker.targets[1], False),
    } and len(records) == 3
    assert all(r["route_uuid"] == route["client_uuid"] for r in records)
    assert all(r["campaign_id"] == walker.campaign_id for r in records)
    found = next(r for r in records if r["detected"])
    assert found["density_per_m2"] == 7
    # The other target at the same point in the same save (no notes), and the route's absence (its effort).
    [at_point] = [r for r in records if not r["detected"] and not r["notes"]]
    assert (at_point["latitude"], at_point["longitude"]) == (found["latitude"], found["longitude"])
    [along] = [r for r in records if not r["detected"] and r["notes"]]
    # The route's absence: half way along it (by length), with its effort in words.
    half = _length(route["points"]) / 2
    walked = 0.0
    for a, b in itertools.pairwise(route["points"]):
        walked += haversine_m(a["lat"], a["lon"], b["lat"], b["lon"])
        if walked >= half:
            assert (along["latitude"], along["longitude"]) == (
                pytest.approx(b["lat"]),
                pytest.approx(b["lon"]),
            )
            break
    assert f"{route['length_m'] / 1000:.1f} km，" in along["notes"]  # in the page's language, its comma too

    # The route's page shows its effort and the records along it.
    p.goto(f"/surveys/routes/{route['id']}")
    expect(p.page.locator("[data-route-records] li")).to_have_count(3)
    expect(p.page.locator("[data-route-effort]")).to_contain_text("km")
    route_map = p.page.locator("[data-route-map]")
    expect(route_map).to_have_attribute("data-loaded", "yes")
    expect(route_map).to_have_attribute("data-records", "3")


def test_a_route_walked_offline_and_reloaded_midway_is_sent_later(phone: Any, walker: Any) -> None:
    p = phone()
    p.sign_in(walker.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")  # the route page saved too
    p.context.set_offline(True)
    _start(p)  # from the phone's copy of the page
    _walk(p, range(1, 3))

    # The page reloaded (or the phone's browser closed and opened) in the middle: the points are kept.
    p.page.reload()
    p.page.wait_for_selector("[data-route-app][data-ready]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-points", "3")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "running")
    # Paused, the route page stops following the phone, and a move records nothing; resumed, the phone's
    # position is the next point.
    p.page.click("[data-route-pause]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-watching", "no")
    # A watch of the test's own shows when the page has the phone's new position: only then is "still
    # 3 points" worth asserting.
    p.page.evaluate(
        "() => { window.testWatch = navigator.geolocation.watchPosition("
        "(pos) => { window.testFix = [pos.coords.latitude, pos.coords.longitude]; }); }"
    )
    lat, lon = _step(3)
    p.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 5})
    wait_until(p.page, f"() => window.testFix?.[0] === {lat!r} && window.testFix?.[1] === {lon!r}")
    p.page.evaluate("() => navigator.geolocation.clearWatch(window.testWatch)")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-points", "3")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "paused")
    p.page.click("[data-route-resume]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-watching", "yes")
    _points_at_least(p, 4)
    _walk(p, range(4, 6))
    p.page.click("[data-route-stop]")
    for box in p.page.locator("[data-absent-species]").all():
        box.uncheck()  # nothing confirmed absent this time
    p.page.click("[data-route-finish]")
    expect(p.page.locator("[data-route-done]")).to_be_visible()
    assert _routes_of(walker.id) == []

    p.context.set_offline(False)
    _wait_sent(p)
    [route] = _routes_of(walker.id)
    assert [(pt["lat"], pt["lon"]) for pt in route["points"]] == [
        pytest.approx(_step(i), abs=1e-9) for i in range(6)
    ]
    assert _records_of(walker.id) == []
    # The move made while paused (step 2 to 3) is drawn but not measured, and not timed.
    pts = route["points"]
    assert math.isclose(route["length_m"], _length(pts[:3]) + _length(pts[3:]), rel_tol=5e-3)
    assert len(route["pauses"]) == 1 and route["moving_s"] <= route["duration_s"]


def test_several_targets_in_one_save_for_a_campaign_chosen_in_the_form(phone: Any, walker: Any) -> None:
    p = phone()
    p.sign_in(walker.username)
    p.goto("/observations/new")
    _choose_species(p.page)  # 福寿螺
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "5")
    p.page.select_option("[data-record-campaign]", str(walker.campaign_id))
    plant = walker.targets[1]  # 喜旱莲子草: found here too, with its cover
    p.page.select_option(f"[data-target-choice='{plant}']", "true")
    cover = p.page.locator(f"input[name='target-{plant}-cover_pct']")
    cover.fill("150")  # beyond 100 %: refused on the phone, nothing queued
    p.page.click('button[type="submit"]')
    expect(p.page.locator(f"[data-field='target-{plant}.cover_pct'] .field-errors")).to_be_visible()
    cover.fill("30")
    p.page.click('button[type="submit"]')
    # "Saved on this phone with 1 more record", or already "sent" when the signal is quick.
    expect(p.page.locator("[data-form-result]")).to_contain_text(re.compile("1|发送"))
    _wait_sent(p)
    records = _records_of(walker.id)
    assert len(records) == 2
    snail, weed = sorted(records, key=lambda r: r["species_id"] != walker.targets[0])
    assert (snail["species_id"], snail["detected"], snail["density_per_m2"]) == (walker.targets[0], True, 5)
    assert (weed["species_id"], weed["detected"]) == (plant, True)
    assert all(r["campaign_id"] == walker.campaign_id and r["route_uuid"] is None for r in records)
    assert (weed["latitude"], weed["longitude"]) == (snail["latitude"], snail["longitude"])
    db.session.rollback()
    try:
        stored = db.session.scalars(
            sa.select(Observation.cover_pct).where(
                Observation.surveyor_id == walker.id, Observation.species_id == plant
            )
        ).one()
    finally:
        db.session.rollback()
    assert stored == 30


def test_route_pages_have_no_axe_violations(phone: Any, walker: Any, axe_source: str) -> None:
    p = phone()
    p.sign_in(walker.username)
    found: dict[str, list[str]] = {}
    p.goto("/surveys/routes/new")
    p.page.wait_for_selector("[data-route-app][data-ready]")
    found["setup"] = _violations(p, axe_source)
    p.page.click("[data-route-start]")
    _points_at_least(p, 1)
    found["walking"] = _violations(p, axe_source)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.select_option(f"[data-target-choice='{walker.targets[1]}']", "true")
    found["record form along a route"] = _violations(p, axe_source)
    p.goto("/surveys/routes/new")
    p.page.wait_for_selector("[data-route-app][data-ready]")
    _walk(p, range(1, 2))
    p.page.click("[data-route-stop]")
    found["absences"] = _violations(p, axe_source)
    p.page.click("[data-route-finish]")
    _wait_sent(p)
    [route] = _routes_of(walker.id)
    for path in ("/surveys/routes", f"/surveys/routes/{route['id']}"):
        p.goto(path)
        found[path] = _violations(p, axe_source)
    failures = {page: rules for page, rules in found.items() if rules}
    assert not failures, "\n".join(f"{page}: {rules}" for page, rules in failures.items())


def test_a_refused_route_is_kept_shown_and_sent_again_without_its_refused_points(
    phone: Any, walker: Any, axe_source: str
) -> None:
    """A GPS jump outside the district: the server refuses the route (points.4.lat); nothing walked is
    lost. The route page lists the refused point with the reason in Chinese, keeps the route through a
    reload, downloads the raw track, and sends it again without the point (counted on the route)."""
    p = phone()
    p.sign_in(walker.username)
    _start(p)
    _walk(p, range(1, 4))
    before = int(p.page.locator("[data-route-app]").get_attribute("data-points") or 0)
    p.context.set_geolocation({"latitude": 39.9, "longitude": 116.4, "accuracy": 5})  # Beijing
    _points_at_least(p, before + 1)
    # Paused a while (a call), then on: the pause goes with the route.
    p.page.click("[data-route-pause]")
    p.page.click("[data-route-resume]")
    _walk(p, range(4, 6))
    p.page.click("[data-route-stop]")
    for box in p.page.locator("[data-absent-species]").all():
        box.uncheck()
    p.page.click("[data-route-finish]")
    expect(p.page.locator("[data-route-done]")).to_be_visible()

    p.goto("/")
    p.app_ready()
    p.page.click("[data-sync-now]")
    item = p.page.locator("[data-outbox-item]")
    expect(item).to_have_attribute("data-state", "rejected", timeout=SENDING)
    assert _routes_of(walker.id) == []
    item.locator("[data-outbox-fix]").click()
    p.page.wait_for_selector("[data-route-app][data-ready]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "refused")
    refused = p.page.locator("[data-refused-point]")
    expect(refused).to_have_count(1)
    assert refused.get_attribute("data-refused-point") == "4"
    assert "第 5 个点" in refused.inner_text() and "在梁平区范围外" in refused.inner_text()  # in Chinese
    expect(p.page.locator("[data-route-resend]")).to_contain_text("1")
    assert _violations(p, axe_source) == []

    # Kept on the phone through a reload, and downloadable as it was walked.
    p.page.reload()
    p.page.wait_for_selector("[data-route-app][data-ready]")
    expect(p.page.locator("[data-refused-point]")).to_have_count(1)
    with p.page.expect_download() as download_info:
        p.page.click("[data-route-download]")
    download = download_info.value
    assert download.suggested_filename.endswith(".geojson")
    track = json.loads(Path(download.path()).read_text())
    [line, point] = track["features"]
    assert line["geometry"]["type"] == "LineString" and len(line["geometry"]["coordinates"]) == 7
    assert len(line["properties"]["times"]) == 7 and len(line["properties"]["pauses"]) == 1
    assert point["geometry"]["coordinates"] == [116.4, 39.9] and point["properties"]["index"] == 4

    p.page.click("[data-route-resend]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "accepted", timeout=SENDING)
    [route] = _routes_of(walker.id)
    assert len(route["points"]) == 6 and route["dropped_point_count"] == 1
    assert [(pt["lat"], pt["lon"]) for pt in route["points"]] == [
        pytest.approx(_step(i), abs=1e-9) for i in range(6)
    ]
    assert len(route["pauses"]) == 1 and route["moving_s"] <= route["duration_s"]


# How many items this phone's outbox holds (app/static/js/outbox.js: database ias-tracker, store outbox).
OUTBOX_COUNT = """() => new Promise((resolve, reject) => {
    const open = indexedDB.open("ias-tracker");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
        const count = open.result.transaction("outbox").objectStore("outbox").count();
        count.onsuccess = () => { open.result.close(); resolve(count.result); };
    };
})"""


def test_a_route_the_phone_could_not_store_is_kept_as_walked_and_saved_once_later(
    phone: Any, walker: Any
) -> None:
    """The phone's storage full at Finish, after the route was stored but before its absence: nothing is
    half-saved (the route taken back), the route stays as walked, the surveyor is told; Finish again
    stores the route and its absence once each."""
    p = phone()
    p.sign_in(walker.username)
    _start(p)
    _walk(p, range(1, 4))
    p.page.click("[data-route-stop]")
    expect(p.page.locator("[data-absent-species]:checked")).to_have_count(2)
    # IndexedDB takes the route, then refuses the next write (the first absence) as a full phone does.
    p.page.evaluate(
        """() => {
            window.__put = IDBObjectStore.prototype.put;
            let writes = 0;
            IDBObjectStore.prototype.put = function (...args) {
                if (this.name === "outbox" && ++writes > 1) {
                    throw new DOMException("full", "QuotaExceededError");
                }
                return window.__put.apply(this, args);
            };
        }"""
    )
    p.page.click("[data-route-finish]")
    expect(p.page.locator("[data-route-errors]")).to_contain_text("未保存")
    expect(p.page.locator("[data-route-done]")).to_be_hidden()
    assert p.page.evaluate(OUTBOX_COUNT) == 0  # nothing half-saved: the route was taken back
    assert p.page.locator("[data-route-app]").get_attribute("data-points") == "4"

    p.page.evaluate("() => { IDBObjectStore.prototype.put = window.__put; }")
    p.page.click("[data-route-finish]")
    expect(p.page.locator("[data-route-done]")).to_contain_text("2")
    _wait_sent(p)
    [route] = _routes_of(walker.id)
    assert len(route["points"]) == 4
    records = _records_of(walker.id)
    assert sorted(r["species_id"] for r in records) == sorted(walker.targets)  # each absence once
    assert not any(r["detected"] for r in records)
