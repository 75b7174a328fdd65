"""Field capture that never loses, doubles or mis-files a record, in a real browser: one bar of signal (a
server that never answers), photos refused or still being prepared when Save is tapped, a double tap on
Save, a record the server refused fixed in the form, the map offline, typed coordinates and map picks."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from playwright.sync_api import expect

from app.control.models import ControlOperation, FollowUp, FollowUpKind
from app.extensions import db
from app.notifications.models import Notification
from app.observations.models import Observation
from tests.browser.test_field_work import FIELD_SPECIES, _observations_of
from tests.browser.waiting import wait_until
from tests.conftest import PADDY
from tests.photos.images import encode, photo

SAVED_ON_PHONE = "已保存在本机，将自动发送"
# How long a test waits for a record to be sent (a 12 MP photo made smaller on a busy machine takes a while);
# a condition awaited, not a timing asserted.
SENDING = 30_000

# The page's own outbox module, by its versioned name (the one the service worker keeps offline).
OUTBOX_MODULE = """document.querySelector('link[rel=modulepreload][href$="/js/outbox.js"]').href"""


def _choose_species(page: Any) -> None:
    page.wait_for_selector("form[data-ready]")
    page.fill("[data-species-search]", "fsl")
    page.locator("[data-species-option]", has_text=FIELD_SPECIES).first.click()


class BlackHole:
    """A link on which the phone thinks it is online and nothing ever comes back: every request to the site
    is held, unanswered, until `release()` (requests made later go through)."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.held: list[Any] = []
        self.lock = threading.Lock()
        context.route("**/*", self._hold)

    def _hold(self, route: Any) -> None:
        with self.lock:
            self.held.append(route)

    def urls(self) -> list[str]:
        with self.lock:
            return [r.request.url for r in self.held]

    def release(self) -> None:
        # Handlers still waiting on requests the phone gave up on end quietly.
        self.context.unroute_all(behavior="ignoreErrors")
        with self.lock:
            held, self.held = self.held, []
        for route in held:
            # The phone gave up on most of them already; one it cancelled cannot be aborted again.
            with contextlib.suppress(Exception):
                route.abort()


def test_one_bar_saves_on_the_phone_and_says_so(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")

    hole = BlackHole(p.context)
    # The form opens from the phone's copy though the network never answers (it does not wait for it).
    p.goto("/observations/new")
    _choose_species(p.page)
    assert any(u.endswith("/observations/new") for u in hole.urls()), "the navigation did not meet the hole"
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "5")
    p.page.select_option('select[name="township_code"]', "500155001")
    p.page.click('button[type="submit"]')
    result = p.page.locator("[data-form-result]")
    expect(result).to_contain_text(SAVED_ON_PHONE)
    expect(p.page.locator('button[type="submit"]')).to_be_enabled()
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")
    assert p.page.locator('input[name="density_per_m2"]').input_value() == ""  # ready for the next record

    # Home, from the phone's copy too: the item is shown waiting, and the status never says all is sent.
    p.goto("/")
    p.app_ready()
    item = p.page.locator("[data-outbox-list] li")
    expect(item).to_have_count(1)
    status = p.page.locator("[data-sync-status]")
    # The send gives up after its time limit and says the server is not answering; it will try again.
    expect(status).to_contain_text("服务器无响应", timeout=30_000)
    assert "全部已发送" not in status.inner_text()
    expect(item).to_have_attribute("data-state", "pending")
    assert _observations_of(user.id) == []

    # The link comes back: "sync now" sends it, once.
    hole.release()
    p.page.click("[data-sync-now]")
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])")
    expect(status).to_contain_text("全部已发送", timeout=SENDING)
    [record] = _observations_of(user.id)
    assert record["density_per_m2"] == 5


def test_a_time_ahead_or_a_point_outside_is_named_before_the_record_is_queued(
    phone: Any, field_user: Any
) -> None:
    """The server refuses both (docs/contract.md §6); the phone says so at Save, beside the field, and keeps
    the form as typed, instead of queueing a record that would come back refused."""
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)  # the phone's own checks, with no server to ask
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    # The chosen species' change button is named in the page's language.
    expect(p.page.locator("[data-species-chosen] button")).to_have_attribute("aria-label", "更换物种")
    p.page.fill('input[name="density_per_m2"]', "4")
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)
    p.page.fill('input[name="observed_at"]', tomorrow.strftime("%Y-%m-%dT%H:%M"))
    p.page.click('button[type="submit"]')
    expect(p.page.locator('[data-error-for="observed_at"]')).to_contain_text("晚于当前时间")
    expect(p.page.locator("[data-outbox-count]")).to_have_text("0")
    assert p.page.locator('input[name="density_per_m2"]').input_value() == "4"  # nothing cleared

    # In time again, but the phone is in Chongqing's city centre, some 150 km from Liangping.
    p.page.fill(
        'input[name="observed_at"]', datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    )
    p.context.set_geolocation({"latitude": 29.5630, "longitude": 106.5516, "accuracy": 5})
    expect(p.page.locator("[data-gps-coords]")).to_have_text("29.563000, 106.551600")
    p.page.click('button[type="submit"]')
    expect(p.page.locator('[data-error-for="latitude"]')).to_contain_text("不在")
    expect(p.page.locator('[data-error-for="observed_at"]')).to_have_count(0)
    expect(p.page.locator("[data-outbox-count]")).to_have_text("0")

    # Back in the district: saved on the phone, and sent once the signal returns.
    p.context.set_geolocation({"latitude": PADDY[0], "longitude": PADDY[1], "accuracy": 5})
    expect(p.page.locator("[data-gps-coords]")).to_have_text(f"{PADDY[0]:.6f}, {PADDY[1]:.6f}")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_contain_text(SAVED_ON_PHONE)
    p.context.set_offline(False)
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = _observations_of(user.id)
    assert record["density_per_m2"] == 4


def test_a_place_name_carried_over_from_another_township_is_not_kept(phone: Any, field_user: Any) -> None:
    """The form starts from the last record's township, place name and habitat. Choosing another township
    clears a place name carried over (it named a field there), unless the surveyor typed one; the habitat
    stays. Found by a user whose record in 双桂街道 went to the census named after a field in 梁山街道."""
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "3")
    p.page.select_option('select[name="township_code"]', "500155001")
    p.page.fill('input[name="place_name"]', "测试田块A")
    p.page.select_option('select[name="habitat"]', "paddy")
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).replace(hour=9, minute=30)
    p.page.fill('input[name="observed_at"]', yesterday.strftime("%Y-%m-%dT%H:%M"))
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")
    place = p.page.locator('input[name="place_name"]')
    assert place.input_value() == "测试田块A"  # the next record starts where the last one was

    p.page.select_option('select[name="township_code"]', "500155002")
    expect(place).to_have_value("")
    assert p.page.locator('select[name="habitat"]').input_value() == "paddy"

    # A new form starts from the phone's memory the same way; a place typed for the new township stays.
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")
    expect(place).to_have_value("测试田块A")
    p.page.select_option('select[name="township_code"]', "500155001")  # the same township: kept
    expect(place).to_have_value("测试田块A")
    p.page.fill('input[name="place_name"]', "新田块")
    p.page.select_option('select[name="township_code"]', "500155002")
    expect(place).to_have_value("新田块")

    # The waiting record is listed by when it was observed, not when it was saved.
    p.goto("/")
    p.app_ready()
    item = p.page.locator("[data-outbox-list] li")
    expect(item).to_contain_text(f"{yesterday.year}/{yesterday.month}/{yesterday.day} 09:30")


def test_a_refused_photo_is_shown_and_kept_for_a_retry(phone: Any, field_user: Any, tmp_path: Path) -> None:
    user = field_user("surveyor")
    not_a_photo = tmp_path / "IMG_0002.jpg"
    not_a_photo.write_bytes(b"this is a text file with a photo's name\n" * 50)
    p = phone()
    p.sign_in(user.username)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "8")
    p.page.set_input_files('[data-photos="gallery"]', str(not_a_photo))
    expect(p.page.locator("[data-photo-list] img")).to_have_count(1)  # a thumbnail, not a bare file name
    p.page.click('button[type="submit"]')
    result = p.page.locator("[data-form-result]")
    expect(result).to_have_attribute("data-state", "photo_refused", timeout=SENDING)
    expect(result).to_contain_text("服务器未接受照片")
    assert "已保存并发送" not in result.inner_text()
    [record] = _observations_of(user.id)
    assert record["photos"] == []

    p.goto("/")
    p.app_ready()
    item = p.page.locator("[data-outbox-list] li")
    expect(item).to_have_attribute("data-state", "photo_refused", timeout=SENDING)
    expect(item.locator("[data-photo-refused]")).to_contain_text("IMG_0002.jpg")
    assert "全部已发送" not in p.page.locator("[data-sync-status]").inner_text()
    # Tried again: refused again, still there (the server's answer is shown, not "sent").
    item.locator("[data-retry-photo]").click()
    expect(item).to_have_attribute("data-state", "photo_refused", timeout=SENDING)
    # Given up: the record is finished without it.
    p.page.once("dialog", lambda dialog: dialog.accept())
    item.locator("[data-drop-photo]").click()
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])")
    assert len(_observations_of(user.id)) == 1


def test_save_while_a_photo_is_being_prepared_waits_for_it(
    phone: Any, field_user: Any, tmp_path: Path
) -> None:
    user = field_user("surveyor")
    picture = tmp_path / "IMG_0003.jpg"
    picture.write_bytes(encode(photo(3000, 4000), "JPEG", quality=90))
    p = phone()
    # Decoding is held until the test lets it go, so Save is certainly tapped while the photo is processed.
    p.page.add_init_script(
        """(() => {
            const decode = window.createImageBitmap.bind(window);
            let release;
            window.__photoGate = new Promise((resolve) => { release = resolve; });
            window.__releasePhotos = () => release();
            window.createImageBitmap = async (...args) => {
                await window.__photoGate;
                return decode(...args);
            };
        })();"""
    )
    p.sign_in(user.username)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "11")
    p.page.set_input_files('[data-photos="camera"]', str(picture))
    expect(p.page.locator('[data-photo-list] [data-photo-state="processing"]')).to_have_count(1)
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_contain_text("正在处理照片")  # not a silent, dead button
    p.page.evaluate("window.__releasePhotos()")
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    expect(p.page.locator("[data-photo-list] li")).to_have_count(0)  # the next record starts with none

    first = p.page.locator("[data-form-result] a").get_attribute("href")
    p.page.fill('input[name="density_per_m2"]', "2")  # the next record, without a photo
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result] a")).not_to_have_attribute("href", first or "", timeout=SENDING)
    records = {r["density_per_m2"]: r for r in _observations_of(user.id)}
    assert sorted(records) == [2, 11]
    assert len(records[11]["photos"]) == 1 and (records[11]["photos"][0][0], records[11]["photos"][0][1]) == (
        1920,
        2560,
    )
    assert records[2]["photos"] == []


def test_a_record_the_phone_could_not_store_is_kept_in_the_form_and_said(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    # The phone's storage is full: IndexedDB refuses the write as a full phone does.
    p.page.evaluate(
        """() => {
            window.__put = IDBObjectStore.prototype.put;
            IDBObjectStore.prototype.put = () => { throw new DOMException("full", "QuotaExceededError"); };
        }"""
    )
    p.page.fill('input[name="density_per_m2"]', "7")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-errors]")).to_contain_text("未保存")
    expect(p.page.locator("[data-form-result]")).to_be_hidden()  # never "saved on this phone"
    assert p.page.locator('input[name="density_per_m2"]').input_value() == "7"  # nothing to type again

    # Space freed: the same Save stores it, and it is sent.
    p.page.evaluate("() => { IDBObjectStore.prototype.put = window.__put; }")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = _observations_of(user.id)
    assert record["density_per_m2"] == 7


def test_double_tap_on_save_makes_one_control_operation(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor")
    baseline = make_observation(api_as(user.user), density_per_m2=18.0)
    p = phone()
    p.sign_in(user.username)
    p.goto(f"/control-operations/new?observation_id={baseline['id']}")
    p.page.wait_for_selector("form[data-ready]")
    p.page.select_option('select[name="method"]', "hand_collection")
    p.page.fill('input[name="details.kg_removed"]', "4.5")
    p.page.fill('input[name="area_mu"]', "1.5")
    p.page.dblclick('button[type="submit"]')
    result = p.page.locator("[data-form-result]")
    expect(result).to_have_attribute("data-state", "sent", timeout=SENDING)
    # Tapped once more after it was sent: the form was cleared, nothing new is saved.
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-outbox-badge]")).to_be_hidden()
    assert p.page.locator('input[name="area_mu"]').input_value() == ""

    db.session.rollback()
    try:
        operations = db.session.scalars(
            sa.select(ControlOperation).where(ControlOperation.operator_id == user.id)
        ).all()
        assert len(operations) == 1
        assert operations[0].details == {"kg_removed": 4.5}
        follow_ups = db.session.scalars(
            sa.select(FollowUp).where(FollowUp.kind == FollowUpKind.SCHEDULED)
        ).all()
        mine = [f for f in follow_ups if f.control_operation_id == operations[0].id]
        # One set: the species × method schedule once, every follow-up belonging to the one operation.
        assert mine and len({f.due_on for f in mine}) == len(mine)
        assert all(
            f.control_operation_id == operations[0].id for f in follow_ups if f.site_id == mine[0].site_id
        )
    finally:
        db.session.rollback()


def test_the_phone_checks_before_queuing(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "-3")
    p.page.fill('input[name="area_mu"]', "-1")
    p.page.click('button[type="submit"]')
    error = p.page.locator('[data-error-for="density_per_m2"]')
    expect(error).to_contain_text("必须在 0 到 1000000 之间")
    # The area is typed in 亩 and checked in m²: its bounds are said in 亩 (10⁹ m² = 1 500 000 亩).
    expect(p.page.locator('[data-error-for="area_m2"]')).to_contain_text("必须在 0 到 1500000 之间")
    expect(p.page.locator("[data-form-result]")).to_be_hidden()
    assert p.page.evaluate(f"import({OUTBOX_MODULE}).then((o) => o.all()).then((a) => a.length)") == 0


def test_a_refused_outbox_item_is_fixed_in_the_form_and_sent(
    phone: Any, field_user: Any, species_id: Any
) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    snail = species_id("pomacea-canaliculata")
    # Queued by an older version of the app, without the phone's checks: a negative density.
    p.context.set_offline(True)
    item_id = p.page.evaluate(
        """async ({userId, speciesId}) => {
            const preload = document.querySelector('link[rel=modulepreload][href$="/js/outbox.js"]');
            const outbox = await import(preload.href);
            const id = outbox.newId();
            await outbox.add({id, userId, kind: 'observation', url: '/api/v1/observations', idFrom: null,
                photoUrl: '/api/v1/observations/{id}/photos', photos: [], label: '福寿螺',
                body: {client_uuid: id, species_id: speciesId, detected: true, density_per_m2: -3,
                       observed_at: new Date().toISOString(), latitude: 30.6712, longitude: 107.8003,
                       accuracy_m: 5, position_source: 'gps', township_code: '500155001'}});
            return id;
        }""",
        {"userId": user.id, "speciesId": snail},
    )
    p.context.set_offline(False)
    p.page.click("[data-sync-now]")
    item = p.page.locator(f'[data-outbox-item="{item_id}"]')
    expect(item).to_have_attribute("data-state", "rejected")
    reason = item.locator(".error").inner_text()
    # The form's label, not the key, and the reason in the user's language.
    assert "密度" in reason and "必须在 0 到 1000000 之间" in reason and "density_per_m2" not in reason

    item.locator("[data-outbox-fix]").click()
    p.page.wait_for_selector("form[data-ready]")
    assert FIELD_SPECIES in p.page.locator("[data-species-chosen]").inner_text()
    assert p.page.locator('input[name="density_per_m2"]').input_value() == "-3"
    expect(p.page.locator('[data-error-for="density_per_m2"]')).to_be_visible()
    p.page.fill('input[name="density_per_m2"]', "3")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = _observations_of(user.id)
    assert record["density_per_m2"] == 3 and str(record["client_uuid"]) == item_id
    assert (record["latitude"], record["longitude"]) == (
        30.6712,
        107.8003,
    )  # the saved position, not a new fix


def test_the_map_marker_is_drawn_offline(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)
    p.goto("/observations/new")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.wait_for_selector("[data-position-map][data-map-ready='1']")  # Leaflet comes after the form
    icon = p.page.locator("[data-position-map] img.leaflet-marker-icon")
    expect(icon).to_have_count(1)
    wait_until(p.page, "() => document.querySelector('[data-position-map] img.leaflet-marker-icon').complete")
    assert icon.evaluate("(img) => img.naturalWidth") > 0  # not a broken image


def test_a_map_tap_never_replaces_a_good_fix_without_asking(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.wait_for_selector("[data-position-map][data-map-ready='1']")  # Leaflet comes after the form
    p.page.locator("[data-position-map]").click(position={"x": 60, "y": 40})  # a stray touch
    expect(p.page.locator("[data-map-confirm]")).to_be_visible()
    assert p.page.locator("form[data-record-form]").get_attribute("data-gps") == "good"
    p.page.click("[data-map-confirm]")
    p.page.wait_for_selector('form[data-gps="map"]')


def test_typed_coordinates_when_location_is_refused(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone(permissions=[])
    p.sign_in(user.username)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="denied"]')
    position = """document.querySelector('link[rel=modulepreload][href$="/js/position.js"]').href"""
    read = p.page.evaluate(
        f"import({position}).then((m) => ['107.8034, 30.6712', '30.6712, 107.8034', '120, 130']"
        ".map((text) => m.parseCoordinates(text)))"
    )
    # Longitude first (as GIS software writes it) is read the right way round; nonsense is not read.
    assert read == [[30.6712, 107.8034], [30.6712, 107.8034], None]
    p.page.fill("[data-typed-coordinates]", "北纬30度40分16.32秒 东经107度48分1.08秒")
    p.page.click("[data-use-typed]")
    p.page.wait_for_selector('form[data-gps="typed"]')
    expect(p.page.locator("[data-gps-status]")).to_have_text("位置来自手工输入的坐标")
    p.page.fill('input[name="density_per_m2"]', "1")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = _observations_of(user.id)
    assert abs(record["latitude"] - (30 + 40 / 60 + 16.32 / 3600)) < 1e-6
    assert abs(record["longitude"] - (107 + 48 / 60 + 1.08 / 3600)) < 1e-6
    assert record["position_source"] == "typed"  # its own source, not a map pick
    # The typed point belonged to that record: the next one is not silently put in the same place.
    p.page.wait_for_selector('form[data-gps="denied"]')
    p.page.fill('input[name="density_per_m2"]', "2")
    p.page.click('button[type="submit"]')
    expect(p.page.locator('[data-error-for="latitude"]')).to_be_visible()


def test_a_returned_record_is_fixed_with_a_new_photo_offline(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, web_as: Any, tmp_path: Path
) -> None:
    user = field_user("surveyor", organization="forestry")
    verifier = field_user("verifier", organization="forestry")
    record = make_observation(api_as(user.user), density_per_m2=12.0)
    response = web_as(verifier.user).post(
        f"/observations/{record['id']}/review",
        data={"decision": "returned", "comment": "请补拍卵块近照", "next": "/review"},
    )
    assert response.status_code == 302
    db.session.rollback()
    close_up = tmp_path / "IMG_0004.jpg"
    close_up.write_bytes(encode(photo(1200, 900), "JPEG", quality=90))

    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")  # its edit form saved too
    p.context.set_offline(True)  # at the paddy, to retake the photo
    p.goto(f"/observations/{record['id']}/edit")
    p.page.wait_for_selector("form[data-ready]")
    assert "请补拍卵块近照" in p.page.locator("[data-review-comment]").inner_text()
    assert FIELD_SPECIES in p.page.locator("[data-species-chosen]").inner_text()
    assert p.page.locator('input[name="density_per_m2"]').input_value() == "12"
    assert p.page.locator("form[data-record-form]").get_attribute("data-gps") == "kept"
    p.page.set_input_files('[data-photos="camera"]', str(close_up))
    p.page.fill('input[name="density_per_m2"]', "14")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_contain_text(SAVED_ON_PHONE)
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")

    p.context.set_offline(False)  # back in signal: sent by itself, and the page moves to the record
    p.page.wait_for_url(f"**/observations/{record['id']}")
    db.session.rollback()
    try:
        stored = db.session.get(Observation, record["id"])
        assert stored is not None
        assert stored.status.value == "submitted" and stored.density_per_m2 == 14
        assert stored.area_m2 == record["area_m2"]  # untouched, not rewritten from the rounded 亩
        assert len(stored.photos) == 1
        notices = db.session.scalars(
            sa.select(Notification).where(
                Notification.user_id == verifier.id, Notification.kind == "observation_resubmitted"
            )
        ).all()
        assert len(notices) == 1
    finally:
        db.session.rollback()


def test_township_is_listed_by_distance_and_worked_out_when_left_empty(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor")
    api = api_as(user.user)
    north_1km = PADDY[0] + 1000 / 111_320
    make_observation(api, township_code="500155002", latitude=north_1km)  # 1 km away
    make_observation(api, township_code="500155001", latitude=PADDY[0] - 5000 / 111_320)  # 5 km away
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)  # made with no signal, so no township is looked up while recording
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    options = p.page.locator('select[name="township_code"] option')
    assert options.nth(1).get_attribute("value") == "500155002"
    assert options.nth(2).get_attribute("value") == "500155001"
    assert "1.0 km" in options.nth(1).inner_text()
    assert p.page.locator('select[name="township_code"]').input_value() == ""  # not chosen for the surveyor
    # No township boundaries here: the hint says a township left empty comes only from a record nearby.
    expect(p.page.locator('[data-township-hint="sites"]')).to_be_visible()
    expect(p.page.locator('[data-township-hint="position"]')).to_be_hidden()
    p.page.fill('input[name="density_per_m2"]', "6")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")
    p.context.set_offline(False)
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = [r for r in _observations_of(user.id) if r["density_per_m2"] == 6]
    assert record["township_code"] == "500155002"


def test_the_village_is_chosen_among_the_townships_villages(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    village = p.page.locator('label[data-field="village_code"]')
    expect(village).to_be_hidden()  # no township chosen: nothing to pick from
    p.page.select_option('select[name="township_code"]', "500155202")
    expect(village).to_be_visible()
    options = p.page.locator('select[name="village_code"] option')
    expect(options).to_have_count(6)  # "choose" and the 5 村/社区 of 龙胜乡, by their short names
    assert options.nth(5).inner_text() == "新口村"
    p.page.select_option('select[name="village_code"]', "500155202204")
    p.page.fill('input[name="density_per_m2"]', "7")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = [r for r in _observations_of(user.id) if r["density_per_m2"] == 7]
    assert (record["township_code"], record["village_code"]) == ("500155202", "500155202204")


def test_ready_for_offline_use_is_shown_and_a_sync_refreshes_the_sites(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor")
    colleague = field_user("surveyor")
    make_observation(api_as(colleague.user))  # one site of the bureau
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    state = p.page.locator("[data-offline-state]")
    expect(state).to_contain_text("可离线使用")
    expect(state).to_contain_text("1 个发生点")
    species = int(
        p.page.evaluate("fetch('/app/field-data.json').then((r) => r.json()).then((d) => d.species.length)")
    )
    assert species > 0 and f"{species} 个物种" in state.inner_text()

    # A colleague opens a second site; the next sync brings it to this phone.
    make_observation(api_as(colleague.user), latitude=PADDY[0] + 0.01)
    db.session.rollback()
    p.page.click("[data-sync-now]")
    expect(state).to_contain_text("2 个发生点")
    p.context.set_offline(True)
    p.goto("/control-operations/new")
    p.page.wait_for_selector("form[data-ready]")
    assert p.page.locator('[data-site-select] option:not([value=""])').count() == 2


def test_a_site_found_offline_is_treated_offline(phone: Any, field_user: Any) -> None:
    user = field_user("surveyor")
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)
    p.goto("/observations/new")
    _choose_species(p.page)
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.fill('input[name="density_per_m2"]', "25")
    p.page.fill('input[name="place_name"]', "老屋基田")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")

    p.goto("/control-operations/new")  # the record waits on the phone; its site can be treated already
    p.page.wait_for_selector("form[data-ready]")
    waiting = p.page.locator("[data-site-select] option[data-pending-record]")
    expect(waiting).to_have_count(1)
    assert "老屋基田" in waiting.inner_text()
    p.page.select_option("[data-site-select]", waiting.get_attribute("value"))
    p.page.select_option('select[name="method"]', "hand_collection")
    p.page.fill('input[name="details.kg_removed"]', "3")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-outbox-count]")).to_have_text("2")

    p.context.set_offline(False)
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    [record] = _observations_of(user.id)
    db.session.rollback()
    try:
        [operation] = db.session.scalars(
            sa.select(ControlOperation).where(ControlOperation.operator_id == user.id)
        ).all()
        baseline = db.session.get(Observation, record["id"])
        assert baseline is not None and operation.site_id == baseline.site_id
        assert operation.details == {"kg_removed": 3}
    finally:
        db.session.rollback()


def test_a_missing_registration_number_is_caught_on_the_phone(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor")
    baseline = make_observation(api_as(user.user))
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.goto(f"/control-operations/new?observation_id={baseline['id']}")
    p.page.wait_for_selector("form[data-ready]")
    p.page.select_option('select[name="method"]', "chemical")
    p.page.fill('input[name="details.product"]', "四聚乙醛")
    p.page.fill('input[name="details.dose_g_per_mu"]', "-5")
    p.page.fill('input[name="area_mu"]', "2000000")
    today = p.page.input_value('input[name="performed_at"]')
    p.page.fill('input[name="performed_at"]', "2030-01-10T10:00")  # a phone whose date is wrong, or a slip
    p.page.click('button[type="submit"]')
    expect(p.page.locator('[data-error-for="details.registration_no"]')).to_contain_text("此防治方法必填")
    expect(p.page.locator('[data-error-for="area_m2"]')).to_contain_text("必须在 0 到 1500000 之间")  # in 亩
    expect(p.page.locator('[data-error-for="performed_at"]')).to_contain_text("晚于当前时间")
    expect(p.page.locator('[data-error-for="details.dose_g_per_mu"]')).to_contain_text(
        "必须在 0 到 100000 之间"
    )
    expect(p.page.locator("[data-form-result]")).to_be_hidden()
    assert p.page.evaluate(f"import({OUTBOX_MODULE}).then((o) => o.all()).then((a) => a.length)") == 0

    p.page.fill('input[name="details.registration_no"]', "PD20101234")
    p.page.fill('input[name="details.dose_g_per_mu"]', "500")
    p.page.fill('input[name="area_mu"]', "3")
    p.page.fill('input[name="performed_at"]', today)
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)


def test_a_refused_control_operation_is_fixed_in_its_form(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor")
    baseline = make_observation(api_as(user.user))
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    site_id = baseline["site_id"]
    # Queued by an older version of the app: an operation without its method's required product name.
    p.context.set_offline(True)
    item_id = p.page.evaluate(
        """async ({userId, siteId}) => {
            const preload = document.querySelector('link[rel=modulepreload][href$="/js/outbox.js"]');
            const outbox = await import(preload.href);
            const id = outbox.newId();
            await outbox.add({id, userId, kind: 'control', url: '/api/v1/control-operations', idFrom: null,
                photoUrl: '/api/v1/control-operations/{id}/photos', photos: [], label: '化学防治',
                body: {client_uuid: id, site_id: siteId, method: 'chemical', area_m2: 1000,
                       performed_at: new Date().toISOString(),
                       details: {registration_no: 'PD20101234', dose_g_per_mu: 400}}});
            return id;
        }""",
        {"userId": user.id, "siteId": site_id},
    )
    p.context.set_offline(False)
    p.page.click("[data-sync-now]")
    item = p.page.locator(f'[data-outbox-item="{item_id}"]')
    expect(item).to_have_attribute("data-state", "rejected")
    reason = item.locator(".error").inner_text()
    assert "药剂名称" in reason and "details.product" not in reason  # the method's own label

    item.locator("[data-outbox-fix]").click()
    p.page.wait_for_selector("form[data-ready]")
    assert p.page.locator("[data-site-select]").input_value() == str(site_id)
    assert p.page.locator('input[name="details.registration_no"]').input_value() == "PD20101234"
    expect(p.page.locator('[data-error-for="details.product"]')).to_be_visible()
    p.page.fill('input[name="details.product"]', "四聚乙醛")
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    db.session.rollback()
    try:
        [operation] = db.session.scalars(
            sa.select(ControlOperation).where(ControlOperation.operator_id == user.id)
        ).all()
        assert str(operation.client_uuid) == item_id
        assert operation.details["product"] == "四聚乙醛" and operation.area_m2 == 1000
    finally:
        db.session.rollback()
