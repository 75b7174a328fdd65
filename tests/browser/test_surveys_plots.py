"""A plot (样地) with five quadrats (样方) laid on a phone with no signal, sent when the signal returns, and
shown with its figures on the plot's page and the site's timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.photos.models import Photo
from app.surveys.models import Plot
from tests.browser.test_accessibility import _violations, axe_source
from tests.photos.images import encode, photo

__all__ = ["axe_source"]  # the fixture, used by name

SNAIL = "pomacea-canaliculata"
WEED = "alternanthera-philoxeroides"

# Per quadrat (all 1 m²): what each species measured; typed into the form one quadrat at a time.
QUADRATS: list[dict[str, dict[str, str]]] = [
    {SNAIL: {"density_per_m2": "12", "count": "12"}, WEED: {"cover_pct": "30", "height_cm": "25"}},
    {SNAIL: {"density_per_m2": "8", "count": "8"}},
    {WEED: {"cover_pct": "50", "height_cm": "35"}},
    {SNAIL: {"density_per_m2": "4", "count": "4"}},
    {SNAIL: {"density_per_m2": "6", "count": "6"}, WEED: {"cover_pct": "10", "height_cm": "20"}},
]


def _plots_of(user_id: int) -> list[dict[str, Any]]:
    db.session.rollback()
    try:
        return [
            {
                "id": plot.id,
                "area_m2": plot.area_m2,
                "photos": [
                    (ph.width, ph.height)
                    for ph in db.session.scalars(sa.select(Photo).where(Photo.plot_id == plot.id))
                ],
                "quadrats": [
                    (q.number, q.size_m2, {r.species_id: r for r in q.records}) for q in plot.quadrats
                ],
            }
            for plot in db.session.scalars(sa.select(Plot).where(Plot.surveyor_id == user_id))
        ]
    finally:
        db.session.rollback()


def test_a_plot_of_five_quadrats_laid_offline_then_sent(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, species_id: Any, tmp_path: Path
) -> None:
    user = field_user("surveyor", organization="forestry")
    site = make_observation(api_as(user.user))
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto(f"/sites/{site['site_id']}")
    p.page.click("[data-new-plot]")
    p.page.wait_for_selector("form[data-plot-form][data-ready]")

    # At the paddy: no signal. The form comes from the phone's cache.
    p.context.set_offline(True)
    p.page.reload()
    page = p.page
    page.wait_for_selector("form[data-plot-form][data-ready]")
    page.select_option('select[name="shape"]', "square")
    page.fill('input[name="length_m"]', "10")
    expect(page.locator("[data-plot-area]")).to_contain_text("100 m²")
    assert not page.locator('[data-field="radius_m"]').is_visible()

    for i, measured in enumerate(QUADRATS):
        if i > 0:
            page.click("[data-add-quadrat]")
        quadrat = page.locator("[data-quadrat]").nth(i)
        expect(quadrat.locator('input[name="number"]')).to_have_value(str(i + 1))
        for j, (key, figures) in enumerate(measured.items()):
            if j > 0:
                quadrat.locator("[data-add-record]").click()
            record = quadrat.locator("[data-record]").nth(j)
            record.locator('select[name="species_id"]').select_option(str(species_id(key)))
            for name, value in figures.items():
                record.locator(f'input[name="{name}"]').fill(value)
    expect(page.locator("[data-quadrat-count]")).to_have_text("5")
    picture = tmp_path / "plot.jpg"
    picture.write_bytes(encode(photo(1200, 900), "JPEG", quality=85))
    page.set_input_files('[data-photos="gallery"]', str(picture))
    page.wait_for_selector("[data-photo-list] [data-photo]")
    p.screenshot("plot-form")
    page.click('button[type="submit"]')
    page.wait_for_selector("[data-form-result]:not([hidden])")
    expect(page.locator("[data-outbox-count]")).to_have_text("1")
    assert _plots_of(user.id) == []

    # Signal again: the plot is sent by itself, once.
    p.context.set_offline(False)
    page.wait_for_selector("[data-outbox-badge]", state="hidden")
    page.wait_for_selector("[data-form-result] [data-plot-link]")
    [plot] = _plots_of(user.id)
    assert plot["area_m2"] == 100
    assert plot["photos"] == [(1200, 900)]  # its photo went with it
    assert [(n, size) for n, size, _records in plot["quadrats"]] == [(n, 1.0) for n in range(1, 6)]
    snail, weed = species_id(SNAIL), species_id(WEED)
    assert plot["quadrats"][0][2][snail].density_per_m2 == 12
    assert plot["quadrats"][2][2][weed].cover_pct == 50

    # The plot's page shows the figures, computed here independently (absent quadrats count 0).
    page.click("[data-form-result] [data-plot-link]")
    page.wait_for_selector("[data-plot-figures]")
    snail_row = page.locator(f'[data-plot-figures] tr[data-species-id="{snail}"]')
    expect(snail_row.locator('[data-figure="frequency_pct"]')).to_have_text(f"{100 * 4 / 5:.1f}")
    expect(snail_row.locator('[data-figure="mean_density_per_m2"]')).to_have_text(
        f"{(12 + 8 + 0 + 4 + 6) / 5:.2f}"
    )
    expect(snail_row.locator('[data-figure="total_count"]')).to_have_text(str(12 + 8 + 4 + 6))
    weed_row = page.locator(f'[data-plot-figures] tr[data-species-id="{weed}"]')
    expect(weed_row.locator('[data-figure="frequency_pct"]')).to_have_text(f"{100 * 3 / 5:.1f}")
    expect(weed_row.locator('[data-figure="mean_cover_pct"]')).to_have_text(
        f"{(30 + 0 + 50 + 0 + 10) / 5:.1f}"
    )
    expect(weed_row.locator('[data-figure="mean_height_cm"]')).to_have_text(f"{(25 + 35 + 20) / 3:.1f}")
    p.screenshot("plot")

    # And the site's timeline has the plot with its figures.
    p.goto(f"/sites/{site['site_id']}")
    entry = page.locator(f'[data-timeline] [data-plot="{plot["id"]}"]')
    expect(entry).to_contain_text("5 个样方")
    expect(entry).to_contain_text("频度 80%")


def test_a_refused_plot_opens_again_in_its_form_to_be_fixed(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    user = field_user("surveyor", organization="forestry")
    site = make_observation(api_as(user.user))
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    page = p.page
    p.goto(f"/sites/{site['site_id']}/plots/new")
    page.wait_for_selector("form[data-plot-form][data-ready]")
    page.select_option('select[name="shape"]', "circle")
    page.fill('input[name="radius_m"]', "3")
    page.fill('[data-quadrat] input[name="size_m2"]', "1")
    page.fill('[data-record] input[name="count"]', "7")
    # A day the phone's clock got wrong: the server refuses a plot surveyed in the future.
    page.fill('input[name="surveyed_at"]', "2099-06-01T10:00")
    page.click('button[type="submit"]')
    page.wait_for_selector("[data-form-result] [data-outbox-fix]")
    assert _plots_of(user.id) == []

    page.click("[data-form-result] [data-outbox-fix]")
    page.wait_for_selector("form[data-plot-form][data-ready]")
    expect(page.locator('[data-field="surveyed_at"] [data-error-for]')).to_be_visible()
    expect(page.locator('input[name="radius_m"]')).to_have_value("3")
    expect(page.locator('[data-record] input[name="count"]')).to_have_value("7")
    page.fill('input[name="surveyed_at"]', "2026-01-05T10:00")
    page.click('button[type="submit"]')
    page.wait_for_selector("[data-form-result] [data-plot-link]")
    [plot] = _plots_of(user.id)
    assert round(plot["area_m2"], 2) == round(3.141592653589793 * 9, 2)
    expect(page.locator("[data-outbox-count]")).to_have_text("0")


def test_a_density_that_contradicts_the_count_is_named_before_the_plot_is_saved(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    """The server's check (density 0 with 7 counted), made by the form: its message by the density field,
    nothing put in the outbox; emptied, the density is taken from the count and the plot is saved."""
    user = field_user("surveyor", organization="forestry")
    site = make_observation(api_as(user.user))
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    page = p.page
    p.goto(f"/sites/{site['site_id']}/plots/new")
    page.wait_for_selector("form[data-plot-form][data-ready]")
    page.fill('input[name="length_m"]', "10")
    page.fill('[data-record] input[name="density_per_m2"]', "0")
    page.fill('[data-record] input[name="count"]', "7")
    page.click('button[type="submit"]')
    error = page.locator('[data-field="quadrats.0.records.0.density_per_m2"] [data-error-for]')
    expect(error).to_have_text("为每平方米 0，而样方中计数为 7；两者矛盾，请留空以按计数计算密度。")
    expect(page.locator("[data-form-result]")).to_be_hidden()
    page.fill('[data-record] input[name="density_per_m2"]', "")
    page.click('button[type="submit"]')
    page.wait_for_selector("[data-form-result] [data-plot-link]")
    assert len(_plots_of(user.id)) == 1


def test_a_plot_is_edited_on_its_page_without_javascript(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, species_id: Any
) -> None:
    """The desk with scripts off (docs/surveys.md, Plots: "Editing on a page"): a refused value is shown
    by its field, then the plot saved with a quadrat's figure changed and a species added."""
    user = field_user("surveyor", organization="forestry")
    api = api_as(user.user)
    site = make_observation(api)
    body = {
        "client_uuid": "7a1d0f3e-0c4b-4b8e-9a51-2f7e1c0d5a01",
        "site_id": site["site_id"],
        "surveyed_at": site["observed_at"],
        "shape": "square",
        "length_m": 5,
        "quadrats": [{"number": 1, "size_m2": 1, "records": [{"species_id": species_id(SNAIL), "count": 3}]}],
    }
    plot = api.post("/api/v1/plots", json=body).get_json()
    db.session.rollback()
    p = phone(java_script_enabled=False, viewport={"width": 1280, "height": 900}, is_mobile=False)
    p.sign_in(user.username)
    p.goto(f"/plots/{plot['id']}")
    p.page.click("[data-plot-edit-link]")
    p.page.fill('input[name="quadrats-0-records-0-cover_pct"]', "120")
    p.page.click('button[type="submit"].primary')
    expect(p.page.locator('[data-error-for="quadrats-0-records-0-cover_pct"]')).to_be_visible()
    p.page.fill('input[name="quadrats-0-records-0-cover_pct"]', "")
    p.page.fill('input[name="quadrats-0-records-0-count"]', "5")
    p.page.fill('input[name="quadrats-0-records-1-species"]', "喜旱莲子草")
    p.page.fill('input[name="quadrats-0-records-1-cover_pct"]', "40")
    p.page.click('button[type="submit"].primary')
    p.page.wait_for_url(f"{p.base_url}/plots/{plot['id']}")
    [stored] = _plots_of(user.id)
    [(number, _size, records)] = stored["quadrats"]
    assert number == 1 and records[species_id(SNAIL)].count == 5
    assert records[species_id(WEED)].cover_pct == 40


def test_the_plot_edit_page_has_no_axe_violations(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, species_id: Any, axe_source: str
) -> None:
    user = field_user("surveyor", organization="forestry")
    api = api_as(user.user)
    site = make_observation(api)
    body = {
        "client_uuid": "0b7c3d8e-52a4-4c61-8f0d-6a2b9e4c1d22",
        "site_id": site["site_id"],
        "surveyed_at": site["observed_at"],
        "shape": "rectangle",
        "length_m": 5,
        "width_m": 2,
        "quadrats": [{"number": 1, "size_m2": 1, "records": [{"species_id": species_id(SNAIL), "count": 3}]}],
    }
    plot = api.post("/api/v1/plots", json=body).get_json()
    db.session.rollback()
    p = phone()
    p.sign_in(user.username)
    p.goto(f"/plots/{plot['id']}/edit")
    assert _violations(p, axe_source) == []
    p.page.fill('input[name="quadrats-0-size_m2"]', "50")  # larger than the plot: refused, shown by its field
    p.page.click('button[type="submit"].primary')
    expect(p.page.locator('[data-error-for="quadrats-0-size_m2"]')).to_be_visible()
    assert _violations(p, axe_source) == []
