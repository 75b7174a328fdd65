"""A campaign planned on a phone and "my survey units" with no signal (issue 19 point 1), in Chromium.

A forestry supervisor plans a campaign on a 360 px phone: finds the target species by search, opens a
township and ticks two of its villages, gives them to a surveyor with a due date, and saves. The surveyor
opens the app once with signal: the home page lists the units, draws the outline of the one whose
boundary is loaded, and is saved for offline use; with no signal the home page and the campaign's page
still open, with the outline.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import local_today
from app.district.models import Boundary, BoundaryLevel, BoundaryLoad
from app.extensions import db
from app.surveys.models import Campaign
from tests.surveys.conftest import LIRANG, LIRANG_VILLAGE, LIRANG_VILLAGE_2

# A made-up square around a point of 礼让镇 (not a real boundary): enough for the map to draw an outline.
SQUARE = [[107.70, 30.66], [107.72, 30.66], [107.72, 30.68], [107.70, 30.68], [107.70, 30.66]]


def _load_village_square(code: str) -> None:
    load = BoundaryLoad(
        level=BoundaryLevel.VILLAGE,
        version=uuid.uuid4().hex,
        filename="test.geojson",
        sha256="0" * 64,
        format="geojson",
        crs="EPSG:4326",
        code_field="code",
        units=1,
        features=1,
    )
    db.session.add(load)
    db.session.flush()
    db.session.add(
        Boundary(
            load_id=load.id,
            level=BoundaryLevel.VILLAGE,
            code=code,
            name="老营村",
            geometry={"type": "Polygon", "coordinates": [SQUARE]},
            area_m2=4.6e6,
            min_lon=107.70,
            min_lat=30.66,
            max_lon=107.72,
            max_lat=30.68,
        )
    )
    db.session.commit()


def _fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('main *')]"
        ".filter((el) => el.getBoundingClientRect().right > 361).slice(0, 5)"
        ".map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)"
    )
    assert width <= 360, f"the page is {width} px wide on a 360 px phone: {wide}"


def test_plan_on_a_phone_and_see_my_units_offline(phone: Any, field_user: Any) -> None:
    planner = field_user("supervisor", "forestry")
    surveyor = field_user("surveyor", "forestry")
    _load_village_square(LIRANG_VILLAGE)

    p = phone()
    p.sign_in(planner.username)
    p.goto("/campaigns")
    p.page.click("text=新建调查任务")
    p.page.wait_for_selector("[data-campaign-form]")
    _fits_the_phone(p.page)
    p.page.fill('input[name="name"]', "礼让镇福寿螺普查")
    p.page.select_option('select[name="kind"]', "census")
    today = local_today()
    p.page.fill('input[name="starts_on"]', today.isoformat())
    p.page.fill('input[name="ends_on"]', (today + timedelta(days=30)).isoformat())
    # The species search (the page's script, from the field data).
    p.page.fill("[data-species-search]", "福寿螺")
    p.page.click("[data-species-results] button >> nth=0")
    expect(p.page.locator('[data-species-chosen] input[name="species_id"]')).to_have_count(1)
    # 礼让镇, then two of its villages.
    township = p.page.locator(f'details[data-township="{LIRANG}"]')
    township.locator("summary .muted").click()
    township.locator(f'input[value="{LIRANG_VILLAGE}"]').check()
    township.locator(f'input[value="{LIRANG_VILLAGE_2}"]').check()
    p.page.select_option('select[name="pick_assignee_id"]', str(surveyor.id))
    due = (today + timedelta(days=10)).isoformat()
    p.page.fill('input[name="pick_due_on"]', due)
    p.page.click("[data-add-units]")
    expect(p.page.locator("[data-unit-row]")).to_have_count(2)
    expect(p.page.locator('[data-species-chosen] input[name="species_id"]')).to_have_count(1)  # kept
    _fits_the_phone(p.page)
    p.screenshot("campaign-form")
    p.page.click("[data-save]")
    p.page.wait_for_selector("[data-campaign-units]")
    expect(p.page.locator("[data-campaign-units] tr[data-unit]")).to_have_count(2)
    _fits_the_phone(p.page)
    p.screenshot("campaign")

    db.session.rollback()
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "礼让镇福寿螺普查"))
    assert campaign is not None
    assert {(u.unit_code, u.assignee_id, u.due_on.isoformat()) for u in campaign.units} == {
        (LIRANG_VILLAGE, surveyor.id, due),
        (LIRANG_VILLAGE_2, surveyor.id, due),
    }
    assert [s.name_zh for s in campaign.species] == ["福寿螺"]
    campaign_id = campaign.id
    db.session.rollback()

    field = phone()
    field.sign_in(surveyor.username)
    field.page.wait_for_selector("html[data-offline-ready]", state="attached")
    units = field.page.locator("[data-my-survey-units] a")
    expect(units).to_have_count(2)
    field.page.wait_for_selector("[data-my-units-map][data-unit-outlines='1']")
    _fits_the_phone(field.page)
    field.screenshot("my-survey-units")

    field.context.set_offline(True)  # in the fields
    field.goto("/")
    expect(field.page.locator("[data-my-survey-units] a")).to_have_count(2)
    field.page.wait_for_selector("[data-my-units-map][data-unit-outlines='1']")
    field.goto(f"/campaigns/{campaign_id}")
    expect(field.page.locator("[data-campaign-units] tr[data-unit]")).to_have_count(2)
    field.context.set_offline(False)
