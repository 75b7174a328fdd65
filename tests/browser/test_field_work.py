"""A surveyor's day on a phone, in a real browser: sign in, record with GPS and a photo, lose the signal,
keep recording, get it back, and re-inspect a treated site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from app.control.models import FollowUp, FollowUpStatus
from app.extensions import db
from app.observations.models import Observation
from app.photos.models import Photo
from tests.photos.images import encode, exif, photo

FIELD_SPECIES = "福寿螺"


def _observations_of(user_id: int) -> list[dict[str, Any]]:
    """The user's records as plain values, read in a transaction that is closed again at once (on SQLite
    an open read would block the server's writes)."""
    db.session.rollback()
    try:
        return [
            {
                "id": o.id,
                "client_uuid": o.client_uuid,
                "species_id": o.species_id,
                "density_per_m2": o.density_per_m2,
                "township_code": o.township.code if o.township else None,
                "village_code": o.village.code if o.village else None,
                "accuracy_m": o.accuracy_m,
                "position_source": o.position_source.value,
                "observed_at": o.observed_at,
                "latitude": o.latitude,
                "longitude": o.longitude,
                "photos": [
                    (ph.width, ph.height, ph.taken_at)
                    for ph in db.session.scalars(sa.select(Photo).where(Photo.observation_id == o.id))
                ],
            }
            for o in db.session.scalars(sa.select(Observation).where(Observation.surveyor_id == user_id))
        ]
    finally:
        db.session.rollback()


def _record(p: Any, *, density: str, photo_path: Path | None = None) -> None:
    """Fill the capture form for 福寿螺 and save it."""
    page = p.page
    page.wait_for_selector("form[data-ready]")
    if not page.locator("[data-species-chosen]").is_visible():  # kept from the last record otherwise
        page.fill("[data-species-search]", "fsl")
        page.locator("[data-species-option]", has_text=FIELD_SPECIES).first.click()
    assert FIELD_SPECIES in page.locator("[data-species-chosen]").inner_text()
    page.wait_for_selector('form[data-gps="good"]')
    assert page.locator('[data-metric="density"]').is_visible()
    assert not page.locator('[data-metric="cover"]').is_visible()  # 福寿螺 is not recorded by cover
    page.select_option('select[name="township_code"]', "500155001")
    page.fill('input[name="density_per_m2"]', density)
    if photo_path is not None:
        page.set_input_files('[data-photos="gallery"]', str(photo_path))
        page.wait_for_selector("[data-photo-list] [data-photo]")
    page.click('button[type="submit"]')
    page.wait_for_selector("[data-form-result]:not([hidden])")


def test_record_offline_and_sync_without_duplicates(phone: Any, field_user: Any, tmp_path: Path) -> None:
    user = field_user("surveyor")
    p = phone()
    p.goto("/sign-in")
    assert p.page.locator("html").get_attribute("lang") == "zh-CN"
    assert p.page.locator("h1").inner_text() == "登录"
    p.screenshot("sign-in")
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")

    # Online, with a 12 MP photo turned on its side by EXIF, as a phone camera writes it.
    picture = tmp_path / "IMG_0001.jpg"
    picture.write_bytes(
        encode(
            photo(4000, 3000), "JPEG", quality=90, exif=exif(orientation=6, original="2026:11:23 09:15:00")
        )
    )
    p.goto("/observations/new")
    _record(p, density="12", photo_path=picture)
    p.page.wait_for_selector("[data-form-result] a")
    p.screenshot("new-observation")
    [first] = _observations_of(user.id)
    assert first["density_per_m2"] == 12 and first["township_code"] == "500155001"
    assert first["accuracy_m"] == 6 and first["position_source"] == "gps"
    # Made smaller on the phone (long edge 2560), upright, with the camera's time carried over.
    [(width, height, taken_at)] = first["photos"]
    assert (width, height) == (1920, 2560)
    assert taken_at is not None and taken_at.isoformat().startswith("2026-11-23T01:15")

    # No signal: two more records wait on the phone.
    p.context.set_offline(True)
    p.page.reload()
    _record(p, density="7")
    _record(p, density="3.5")
    expect(p.page.locator("[data-outbox-count]")).to_have_text("2")  # waits for the outbox
    assert len(_observations_of(user.id)) == 1

    # Still offline: the page comes from the service worker, and the two are still there.
    p.page.reload()
    p.app_ready()
    p.goto("/")
    p.app_ready()
    p.page.wait_for_selector("[data-outbox-list] li >> nth=1")
    assert p.page.locator("[data-outbox-list] li").count() == 2
    assert p.page.locator("[data-outbox-badge]").is_visible()
    p.screenshot("outbox-pending")

    # Signal again: the `online` event sends them, once each.
    p.context.set_offline(False)
    p.page.wait_for_selector("[data-outbox-badge]", state="hidden")
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])")
    records = _observations_of(user.id)
    assert sorted(o["density_per_m2"] for o in records) == [3.5, 7, 12]
    assert len({o["client_uuid"] for o in records}) == 3

    # A retry of what was sent (the answer lost on the way back) does not make a fourth.
    p.page.evaluate(
        """async (body) => {
            const session = await (await fetch('/app/session.json')).json();
            const response = await fetch('/api/v1/observations', {method: 'POST', body: JSON.stringify(body),
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': session.csrf_token}});
            return response.status;
        }""",
        {
            "client_uuid": str(records[0]["client_uuid"]),
            "species_id": records[0]["species_id"],
            "observed_at": records[0]["observed_at"].isoformat(),
            "latitude": records[0]["latitude"],
            "longitude": records[0]["longitude"],
        },
    )
    assert len(_observations_of(user.id)) == 3
    p.screenshot("home")


def test_two_tabs_send_a_waiting_record_once(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/observations/new")
    p.context.set_offline(True)
    _record(p, density="9")
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")

    # Signal again, with the app open in two tabs: both start sending at once. Who-is-signed-in is held until
    # the second tab has had every chance to start too, so both would read the outbox before either sent.
    held: list[Any] = []
    posts: list[str] = []
    p.context.route("**/app/session.json", lambda route: held.append(route))

    def count(route: Any) -> None:
        if route.request.method == "POST":
            posts.append(route.request.url)
        route.continue_()

    p.context.route("**/api/v1/observations", count)
    second = p.context.new_page()
    p.context.set_offline(False)  # the first tab's `online` event syncs
    second.goto(p.base_url + "/")  # the second tab syncs when it opens
    second.wait_for_selector("html[data-app-ready]", state="attached")
    for _ in range(100):  # route handlers run while Playwright waits
        if held:
            break
        second.wait_for_timeout(100)
    assert held, "no tab asked who is signed in"
    second.wait_for_timeout(1_000)
    p.context.unroute("**/app/session.json")
    for route in held:
        route.continue_()

    second.wait_for_selector("[data-outbox-empty]:not([hidden])", timeout=30_000)
    expect(p.page.locator("[data-outbox-badge]")).to_be_hidden(timeout=30_000)
    second.wait_for_timeout(500)  # a second tab's send, had it started, would have left by now
    assert len(posts) == 1, posts  # sent by one tab; the other found nothing left to send
    assert [r["density_per_m2"] for r in _observations_of(user.id)] == [9]


def test_a_second_tab_shows_what_the_first_saves_and_sends(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    home = p.context.new_page()
    home.goto(p.base_url + "/")
    home.wait_for_selector("[data-outbox-empty]:not([hidden])")

    # The record's send is held (one bar): the home tab, idle, lists it waiting without a sync of its own.
    held: list[Any] = []

    def hold(route: Any) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    p.context.route("**/api/v1/observations", hold)
    p.goto("/observations/new")
    _record(p, density="4")
    expect(home.locator("[data-outbox-list] li")).to_have_count(1, timeout=5_000)

    # Sent by the first tab: the home tab's list empties too.
    for _ in range(100):  # route handlers run while Playwright waits
        if held:
            break
        home.wait_for_timeout(100)
    for route in held:
        route.continue_()
    p.context.unroute("**/api/v1/observations")
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=15_000)
    expect(home.locator("[data-outbox-empty]")).to_be_visible(timeout=5_000)
    assert [r["density_per_m2"] for r in _observations_of(user.id)] == [4]


def test_a_record_the_server_is_too_busy_for_waits_longer_each_time(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    posts: list[str] = []

    def busy(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.url)
        route.fulfill(status=429, json={"code": 429, "status": "Too Many Requests", "message": "busy"})

    p.context.route("**/api/v1/observations", busy)
    p.goto("/observations/new")
    _record(p, density="6")
    for _ in range(100):  # route handlers run while Playwright waits
        if posts:
            break
        p.page.wait_for_timeout(100)
    assert len(posts) == 1

    # The app syncing again (a minute later, back on screen, the signal back): not sent again yet.
    outbox = """document.querySelector('link[rel=modulepreload][href$="/js/outbox.js"]').href"""
    p.page.evaluate(f"import({outbox}).then(async (o) => {{ await o.sync(); await o.sync(); }})")
    assert len(posts) == 1, posts
    p.goto("/")
    p.app_ready()
    # Said as the server's trouble, not as "no connection".
    expect(p.page.locator("[data-outbox-list] li")).to_contain_text("服务器出现问题")
    assert len(posts) == 1, posts

    # "Sync now" sends it at once, and the server has it.
    p.context.unroute("**/api/v1/observations")
    p.page.click("[data-sync-now]")
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])")
    assert [r["density_per_m2"] for r in _observations_of(user.id)] == [6]


def test_expired_sign_in_keeps_records_and_asks_to_sign_in(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")
    p.context.clear_cookies()  # the session ends while the form is open
    _record(p, density="4")
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")  # waits for the outbox
    p.goto("/")  # redirected to sign-in: the page says so, and the record is still on the phone
    p.sign_in(user.username)
    p.app_ready()
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])")
    [record] = _observations_of(user.id)
    assert record["density_per_m2"] == 4


def test_complete_a_follow_up_at_a_site_with_no_signal(
    phone: Any, field_user: Any, api_as: Any, treat: Any
) -> None:
    user = field_user("surveyor")
    operation, _baseline = treat(api_as(user.user), method="hand_collection", days_ago=8, assignee_id=user.id)
    due = operation["follow_ups"][0]
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")  # my follow-ups saved
    assert p.page.locator(f'[data-my-follow-ups] a[href="/follow-ups/{due["id"]}"]').count() == 1

    p.context.set_offline(True)  # at the paddy
    p.goto(f"/follow-ups/{due['id']}")
    p.page.wait_for_selector("form[data-ready]")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.screenshot("follow-up")
    p.page.check('input[name="detected"][value="false"]')  # searched: none left
    p.page.click('button[type="submit"]')
    p.page.wait_for_selector("[data-form-result]:not([hidden])")
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")  # waits for the outbox

    p.context.set_offline(False)  # back in signal: sent by itself
    p.page.wait_for_selector("[data-outbox-badge]", state="hidden")
    p.page.reload()
    p.page.wait_for_selector('[data-follow-up-status="done"]')
    p.page.wait_for_selector("[data-efficacy] table")
    db.session.rollback()
    follow_up = db.session.get(FollowUp, due["id"])
    assert follow_up is not None and follow_up.status == FollowUpStatus.DONE
    assert follow_up.efficacy["density_reduction_pct"] == 100.0
    db.session.rollback()
    p.screenshot("follow-up-done")
    p.goto(f"/sites/{operation['site_id']}")
    assert p.page.locator("[data-timeline] li").count() >= 3
    p.screenshot("site")


def test_english_is_chosen_and_remembered(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.click("details.menu summary")
    p.page.click('button[data-lang="en"]')
    p.page.wait_for_selector('html[lang="en"]')
    assert p.page.locator(".tabs").inner_text().split("\n")[:2] == ["Home", "New record"]
    p.goto("/observations/new")
    assert p.page.locator("h1").inner_text() == "New record"
    p.screenshot("new-observation-en")


def test_records_survive_closing_the_browser(restartable_phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = restartable_phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)
    p.goto("/observations/new")
    _record(p, density="2")
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")  # waits for the outbox
    p.context.close()  # the phone's browser is closed in the field
    assert _observations_of(user.id) == []

    again = restartable_phone()  # opened later, with signal: still signed in, and sends on load
    again.goto("/")
    again.app_ready()
    again.page.wait_for_selector("[data-outbox-empty]:not([hidden])")
    [record] = _observations_of(user.id)
    assert record["density_per_m2"] == 2
