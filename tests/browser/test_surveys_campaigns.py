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

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import local_today
from app.district.models import Boundary, BoundaryLevel, BoundaryLoad
from app.extensions import db
from app.surveys.models import Campaign
from tests.browser.test_accessibility import AXE, DESK
from tests.surveys.conftest import LIRANG, LIRANG_VILLAGE, LIRANG_VILLAGE_2

# A made-up square around a point of 礼让镇 (not a real boundary): enough for the map to draw an outline.
SQUARE = [[107.70, 30.66], [107.72, 30.66], [107.72, 30.68], [107.70, 30.68], [107.70, 30.66]]


def _drop_loads(versions: list[str]) -> None:
    """Delete the loads this test made through the session, so the reference version moves on
    (app/refdata.py) and no process keeps the made-up outline for later tests."""
    db.session.rollback()
    for load in db.session.scalars(sa.select(BoundaryLoad).where(BoundaryLoad.version.in_(versions))):
        for row in db.session.scalars(sa.select(Boundary).where(Boundary.load_id == load.id)):
            db.session.delete(row)
        db.session.flush()
        db.session.delete(load)
    db.session.commit()


def _load_village_square(code: str) -> str:
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
    version = load.version
    db.session.commit()
    return version


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
    version = _load_village_square(LIRANG_VILLAGE)
    try:
        _plan_and_go_offline(phone, planner, surveyor)
    finally:
        _drop_loads([version])


def _plan_and_go_offline(phone: Any, planner: Any, surveyor: Any) -> None:

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
    township = p.page.locator(f'[data-township="{LIRANG}"]')
    township.locator("summary").click()
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


def _violations(p: Any, axe_source: str) -> list[str]:
    """axe's violations on the whole page, the coverage section included."""
    p.page.wait_for_load_state("load")
    if not p.page.evaluate("typeof window.axe !== 'undefined'"):
        p.page.evaluate(axe_source)
    found = p.page.evaluate(
        """async () => {
            const context = { include: [["body"]] };
            const result = await window.axe.run(context, { resultTypes: ["violations"] });
            return result.violations.map((v) =>
                `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
        }"""
    )
    return list(found)


@pytest.fixture(scope="module")
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_campaign_pages_have_no_axe_violations(
    phone: Any, field_user: Any, api_as: Any, species_id: Any, axe_source: str, size: str
) -> None:
    admin = field_user("admin", organization="forestry")
    today = local_today()
    created = api_as(admin.user).post(
        "/api/v1/campaigns",
        json={
            "name": "无障碍检查",
            "kind": "monitoring",
            "bureau": "forestry",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=20)).isoformat(),
            "species_ids": [species_id("pomacea-canaliculata")],
            "units": [
                {"township_code": LIRANG, "village_code": LIRANG_VILLAGE, "assignee_id": admin.id},
                {"township_code": LIRANG},
            ],
        },
    )
    assert created.status_code == 201, created.get_json()
    campaign_id = created.get_json()["id"]
    db.session.commit()
    db.session.rollback()
    p = phone(**(DESK if size == "desk" else {}))
    p.sign_in(admin.username)
    found: dict[str, list[str]] = {}
    for language in ("zh", "en"):
        if language == "en":
            p.page.locator('button[data-lang="en"]').dispatch_event("click")
            p.page.wait_for_selector('html[lang="en"]')
        for path in (
            "/",
            "/campaigns",
            "/campaigns/new",
            f"/campaigns/{campaign_id}",
            f"/campaigns/{campaign_id}/edit",
        ):
            response = p.goto(path)
            assert response is not None and response.status == 200, path
            found[f"{language} {path}"] = _violations(p, axe_source)
    failures = {page: rules for page, rules in found.items() if rules}
    assert not failures, "\n".join(f"{page}: {rules}" for page, rules in failures.items())
