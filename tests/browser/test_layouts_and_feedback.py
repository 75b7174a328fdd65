"""Desk and phone layouts, and feedback that is hard to miss: the unread count, reassignment notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from app.exports.models import Export, ExportKind, ExportStatus
from app.extensions import db
from tests.browser.waiting import wait_until

DESK = {"viewport": {"width": 1280, "height": 900}, "is_mobile": False, "has_touch": False}


def _box(p: Any, selector: str) -> dict[str, float]:
    box = p.page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return dict(box)


def test_desk_pages_use_the_desk(phone: Any, field_user: Any) -> None:
    supervisor = field_user("supervisor", organization="forestry")
    desk = phone(**DESK)
    desk.sign_in(supervisor.username)
    # The pages are in the top bar, not behind the ☰ button.
    assert desk.page.locator(".desk-nav").is_visible()
    assert desk.page.locator('.desk-nav a[href="/dashboard"]').is_visible()
    assert not desk.page.locator(".tabs").is_visible()
    # The content uses the width (it sat in an 850 px column).
    assert _box(desk, "main")["width"] >= 1200
    desk.goto("/map")
    desk.page.wait_for_selector("[data-map][data-ready]")
    side, map_box = _box(desk, ".map-side"), _box(desk, "[data-map]")
    assert map_box["x"] >= side["x"] + side["width"]  # beside, not below
    assert map_box["y"] < side["y"] + side["height"]
    assert map_box["width"] > 700 and map_box["height"] > 500

    # On a phone the same pages stack, with the thumb bar.
    p = phone()
    p.sign_in(supervisor.username)
    assert not p.page.locator(".desk-nav").is_visible() and p.page.locator(".tabs").is_visible()
    p.goto("/map")
    p.page.wait_for_selector("[data-map][data-ready]")
    assert _box(p, "[data-map]")["y"] > _box(p, ".map-side")["y"]


def test_the_exports_download_is_reachable_on_a_phone_without_scrolling(phone: Any, field_user: Any) -> None:
    clerk = field_user("bureau_admin", organization="agriculture")
    now = datetime.now(UTC)
    export = Export(
        kind=ExportKind.CENSUS,
        bureau="agriculture",
        date_from=now.date() - timedelta(days=90),
        date_to=now.date(),
        organization_id=clerk.user.organization_id,
        requested_by_id=clerk.id,
        status=ExportStatus.DONE,
        progress=1.0,
        rows=12,
        file_key="exports/test.xlsx",
        file_size=1000,
        finished_at=now,
        expires_at=now + timedelta(hours=24),
    )
    db.session.add(export)
    db.session.commit()
    db.session.rollback()

    p = phone()
    p.sign_in(clerk.username)
    p.goto("/exports")
    link = p.page.locator("[data-download]")
    assert link.inner_text() == "下载"
    box = _box(p, "[data-download]")
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # on screen with the table unscrolled
    assert p.page.evaluate("document.querySelector('.table-wrap').scrollLeft") == 0
    assert p.page.evaluate("document.documentElement.scrollWidth") <= 360  # the page itself does not scroll


def test_the_efficacy_table_shows_every_column_on_a_phone(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, treat: Any
) -> None:
    surveyor = field_user("surveyor", organization="forestry")
    api = api_as(surveyor.user)
    operation, baseline = treat(api, method="chemical", days_ago=10)
    follow_up = operation["follow_ups"][0]
    done = api.post(
        f"/api/v1/follow-ups/{follow_up['id']}/complete",
        json={
            "observation": {
                "client_uuid": "6f1c1c57-6c3e-4d62-9a3a-4d0f7a0f0b01",
                "observed_at": datetime.now(UTC).isoformat(),
                "latitude": baseline["latitude"],
                "longitude": baseline["longitude"],
                "accuracy_m": 5,
                "detected": True,
                "density_per_m2": 5.0,
                "egg_masses_per_m2": 1.5,
            }
        },
    )
    assert done.status_code == 200, done.get_json()
    db.session.commit()
    db.session.rollback()

    p = phone()
    p.sign_in(surveyor.username)
    p.goto(f"/follow-ups/{follow_up['id']}")
    table = p.page.locator("[data-efficacy] table")
    header = table.locator("th").last
    assert "减退率" in header.inner_text() or "%" in header.inner_text()
    for cell in (header, table.locator("tr").nth(1).locator("td").last):
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 360, cell.inner_text()
    # The density fell from 20 to 5 per m²: a 75 % reduction, shown whole on the phone.
    assert "75.0" in table.inner_text()


def test_reassigning_a_follow_up_reaches_the_new_assignee(
    phone: Any, field_user: Any, api_as: Any, treat: Any
) -> None:
    surveyor = field_user("surveyor", organization="forestry")
    colleague = field_user("surveyor", organization="forestry")
    supervisor = field_user("supervisor", organization="forestry")
    operation, _baseline = treat(api_as(surveyor.user), method="chemical", days_ago=1)
    assert {f["assignee_id"] for f in operation["follow_ups"]} == {surveyor.id}  # who treated
    follow_up = operation["follow_ups"][-1]
    db.session.rollback()

    desk = phone(**DESK)
    desk.sign_in(supervisor.username)
    desk.goto(f"/follow-ups/{follow_up['id']}")
    reassign = desk.page.locator('form:has(input[name="action"][value="reassign"])')
    reassign.locator('select[name="assignee_id"]').select_option(str(colleague.id))
    reassign.locator('button[type="submit"]').click()
    desk.page.wait_for_selector(".flash")

    p = phone()
    p.sign_in(colleague.username)
    assert p.page.locator(".tabs [data-unread-count]").inner_text() == "1"
    assert p.page.locator("header [data-unread-count]").inner_text() == "1"
    # Their home lists it (and the phone saves it for offline use), whatever its due date.
    assert p.page.locator(f'[data-my-follow-ups] a[href="/follow-ups/{follow_up["id"]}"]').count() == 1
    p.page.locator('.tabs a[href="/notifications"]').click()
    text = p.page.locator("main").inner_text()
    assert "【复查指派】" in text and follow_up["site_code"] in text
    assert supervisor.display_name in text
    p.page.locator("form.actions button").click()  # mark all as read
    p.page.wait_for_selector("main .empty, main .item:not(.unread)")
    assert p.page.locator("[data-unread-count]").count() == 0


def test_the_control_form_names_who_re_inspects(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    surveyor = field_user("surveyor", organization="forestry")
    colleague = field_user("surveyor", organization="forestry")
    api = api_as(surveyor.user)
    record = make_observation(api)
    db.session.rollback()

    p = phone()
    p.sign_in(surveyor.username)
    p.goto(f"/control-operations/new?observation_id={record['id']}")
    p.page.wait_for_selector("form[data-ready]")
    assignee = p.page.locator('select[name="assignee_id"]')
    assert assignee.input_value() == str(surveyor.id)  # the one recording, unless they choose
    p.page.select_option('select[name="method"]', "hand_collection")
    p.page.fill('input[name="details.kg_removed"]', "4.5")
    assignee.select_option(str(colleague.id))
    p.page.click('button[type="submit"]')
    # Saved on the phone at once, then sent behind it: wait for the send, not only the "saved" line.
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=30_000)
    operations = api.get(f"/api/v1/control-operations?site_id={record['site_id']}").get_json()["items"]
    assert len(operations) == 1 and operations[0]["assignee_id"] == colleague.id
    assert {f["assignee_id"] for f in operations[0]["follow_ups"]} == {colleague.id}


def test_the_map_lists_what_it_shows_beside_it_at_a_desk(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, species_id: Any
) -> None:
    """At a desk the map sits beside a list of its points (key facts and a link each); picking one centres
    the map on it and opens its popup; the list follows the filters. On a phone the list is below the map."""
    from tests.conftest import PADDY

    surveyor = field_user("surveyor", organization="forestry")
    supervisor = field_user("supervisor", organization="forestry")
    api = api_as(surveyor.user)
    snail = make_observation(api, place_name="三组水田")
    weed = make_observation(
        api,
        species_id=species_id("alternanthera-philoxeroides"),
        latitude=PADDY[0] + 0.05,
        longitude=PADDY[1] + 0.05,
        township_code="500155002",
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=35,
        place_name="河沟边",
    )
    assert snail["site_id"] != weed["site_id"]

    desk = phone(**DESK)
    desk.sign_in(supervisor.username)
    desk.goto("/map")
    desk.page.wait_for_selector("[data-map][data-ready]")
    items = desk.page.locator("[data-map-list] li")
    expect(items).to_have_count(2)
    weed_item = desk.page.locator(f'[data-map-list] li:has(a[href="/sites/{weed["site_id"]}"])')
    expect(weed_item).to_contain_text(weed["site_code"])
    expect(weed_item).to_contain_text("喜旱莲子草")
    expect(weed_item).to_contain_text("河沟边")
    # Beside the map, under the filters, not below the map.
    side, listed, map_box = _box(desk, ".map-side"), _box(desk, ".map-list"), _box(desk, "[data-map]")
    assert map_box["x"] >= listed["x"] + listed["width"]
    assert listed["y"] >= side["y"] + side["height"] - 1
    assert listed["y"] < map_box["y"] + map_box["height"]

    # Picking an item centres the map on it and opens its popup, which links to the site.
    weed_item.locator("[data-map-item]").click()
    popup = desk.page.locator(".leaflet-popup")
    expect(popup).to_be_visible()
    expect(popup.locator(f'a[href="/sites/{weed["site_id"]}"]')).to_be_visible()
    expect(weed_item).to_have_attribute("aria-current", "true")
    wait_until(
        desk.page,
        """() => {
            const tip = document.querySelector('.leaflet-popup-tip').getBoundingClientRect();
            const map = document.querySelector('[data-map]').getBoundingClientRect();
            return Math.abs(tip.x + tip.width / 2 - (map.x + map.width / 2)) < 3;
        }""",
    )

    # The list follows the filters: one species, then the records layer.
    desk.page.select_option("[data-map-species]", str(snail["species_id"]))
    expect(items).to_have_count(1)
    expect(items.first.locator("a")).to_have_attribute("href", f"/sites/{snail['site_id']}")
    items.first.locator("[data-map-item]").click()  # the records layer lists what is in view: go there
    desk.page.select_option('select[name="layer"]', "observations")
    expect(items.first.locator("a")).to_have_attribute("href", f"/observations/{snail['id']}")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("福寿螺 · 发现")
    expect(items.first).to_contain_text("待审核")

    # On a phone the list sits below the map.
    p = phone()
    p.sign_in(supervisor.username)
    p.goto("/map")
    p.page.wait_for_selector("[data-map][data-ready]")
    expect(p.page.locator("[data-map-list] li")).to_have_count(2)
    phone_map = _box(p, "[data-map]")
    assert _box(p, ".map-list")["y"] >= phone_map["y"] + phone_map["height"]
