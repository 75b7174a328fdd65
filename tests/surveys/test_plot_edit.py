"""A plot's edit page (docs/surveys.md, Plots: "Editing on a page"): a plain form without a script, the
same rules as PATCH /api/v1/plots/{id}, each refusal named by its field, the change audited."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.clock import local_today
from app.extensions import db
from app.surveys.models import Campaign, Plot
from app.surveys.views.plots import MAX_QUADRAT_ROWS, MAX_RECORD_ROWS, QuadratRowsForm
from tests.surveys.test_plots import _campaign, plot_body

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def laid(api_as: Any, make_observation: Any, species_id: Any) -> Any:
    surveyor = api_as("surveyor")
    site = make_observation(surveyor)
    response = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"]))
    assert response.status_code == 201, response.get_json()
    surveyor.plot = response.get_json()
    return surveyor


class _FormReader(HTMLParser):
    """The form as the page drew it: every input's value (ticked boxes only), selected options, text."""

    def __init__(self) -> None:
        super().__init__()
        self.form: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type") != "submit":
            if a.get("type") != "checkbox" or "checked" in a:
                self.form[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
            self.form.setdefault(self._select or "", "")
        elif tag == "option" and self._select and "selected" in a:
            self.form[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.form[self._textarea or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.form[self._textarea] += data


def _form(page: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(page)
    reader.form.pop("csrf_token", None)
    return reader.form


def test_the_surveyor_edits_a_plot_on_its_page(laid: Any, web_as: Any) -> None:
    plot = laid.plot
    web = web_as(laid.user)
    detail = web.get(f"/plots/{plot['id']}").get_data(as_text=True)
    assert f'href="/plots/{plot["id"]}/edit"' in detail
    page = web.get(f"/plots/{plot['id']}/edit").get_data(as_text=True)
    form = _form(page)
    assert form["shape"] == "square" and form["length_m"] == "10" and form["habitat"] == "paddy"
    [weed] = [j for j in range(2) if form[f"quadrats-0-records-{j}-species"] == "喜旱莲子草"]
    assert form[f"quadrats-0-records-{weed}-cover_pct"] == "60"
    assert form["quadrats-5-new"] == "1"  # a blank quadrat offered after the five

    # A bigger plot, quadrat 2's weed re-measured, quadrat 5 removed, a new quadrat 6 with the weed.
    form.update(
        {
            "length_m": "12",
            "notes": "复核后",
            "quadrats-1-records-0-cover_pct": "50",
            "quadrats-4-remove": "1",
            "quadrats-5-size_m2": "2",
            "quadrats-5-records-0-species": "喜旱莲子草",
            "quadrats-5-records-0-density_per_m2": "12.5",
            "action": "save",
        }
    )
    response = web.post(f"/plots/{plot['id']}/edit", data=form)
    assert response.status_code == 302, re.findall(
        r"data-error-for=\"([^\"]+)\"[^>]*><li>([^<]*)", response.get_data(as_text=True)
    )
    data = laid.get(f"/api/v1/plots/{plot['id']}").get_json()
    assert data["length_m"] == 12 and data["area_m2"] == pytest.approx(144) and data["notes"] == "复核后"
    assert [q["number"] for q in data["quadrats"]] == [1, 2, 3, 4, 6]
    assert data["quadrats"][1]["records"][0]["cover_pct"] == 50
    assert data["quadrats"][4]["size_m2"] == 2
    assert data["quadrats"][4]["records"][0]["density_per_m2"] == 12.5
    db.session.rollback()
    audit = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_type == Plot.__tablename__, AuditLog.action == "update")
    ).all()
    assert any(a.changes.get("length_m") == [10, 12] for a in audit), [a.changes for a in audit]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quadrats-2-records-0-cover_pct": "150"}, "quadrats-2-records-0-cover_pct"),
        ({"quadrats-0-size_m2": "500"}, "quadrats-0-size_m2"),
        ({"quadrats-1-number": "1"}, "quadrats-1-number"),
        ({"quadrats-0-records-0-count": "many"}, "quadrats-0-records-0-count"),
        ({"quadrats-0-records-1-species": "没有这种"}, "quadrats-0-records-1-species"),
        ({"quadrats-5-records-0-cover_pct": "10"}, "quadrats-5-records-0-species"),
        ({"length_m": "-3"}, "length_m"),
        ({"shape": "hexagon"}, "shape"),
        ({"surveyed_at": ""}, "surveyed_at"),
        ({"habitat": "moon"}, "habitat"),
    ],
)
def test_a_bad_value_is_named_by_its_field_and_nothing_is_written(
    laid: Any, web_as: Any, change: dict[str, str], field: str
) -> None:
    plot = laid.plot
    before = laid.get(f"/api/v1/plots/{plot['id']}").get_json()
    web = web_as(laid.user)
    form = {**_form(web.get(f"/plots/{plot['id']}/edit").get_data(as_text=True)), **change, "action": "save"}
    response = web.post(f"/plots/{plot['id']}/edit", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'data-error-for="{field}"' in page, re.findall(r'data-error-for="([^"]+)"', page)
    # The page keeps what was typed, and the plot is as it was.
    for name, value in change.items():
        if value and name not in ("shape", "habitat"):
            assert f'value="{value}"' in page
    assert laid.get(f"/api/v1/plots/{plot['id']}").get_json() == before


def test_a_save_names_the_schemas_faults_and_the_plots_own_at_once(laid: Any, web_as: Any) -> None:
    plot = laid.plot
    web = web_as(laid.user)
    change = {"quadrats-2-records-0-cover_pct": "150", "quadrats-1-number": "1", "habitat": "moon"}
    form = {**_form(web.get(f"/plots/{plot['id']}/edit").get_data(as_text=True)), **change, "action": "save"}
    response = web.post(f"/plots/{plot['id']}/edit", data=form)
    assert response.status_code == 422
    named = set(re.findall(r'data-error-for="([^"]+)"', response.get_data(as_text=True)))
    assert {"quadrats-2-records-0-cover_pct", "quadrats-1-number", "habitat"} <= named, named


def test_a_plot_of_a_species_and_habitat_retired_since_is_saved_as_it_was(
    laid: Any, web_as: Any, species_id: Any
) -> None:
    """The page offers the plot's own retired habitat and reads its own retired species' names: a save
    that changes only the notes keeps both, and changes nothing else."""
    from app.species.models import Habitat, Species

    plot = laid.plot
    db.session.get(Species, species_id("ageratum-conyzoides")).retired_on = local_today()
    db.session.scalar(sa.select(Habitat).where(Habitat.code == "paddy")).retired = True
    db.session.commit()
    before = laid.get(f"/api/v1/plots/{plot['id']}").get_json()
    web = web_as(laid.user)
    form = _form(web.get(f"/plots/{plot['id']}/edit").get_data(as_text=True))
    assert form["habitat"] == "paddy"
    response = web.post(f"/plots/{plot['id']}/edit", data={**form, "notes": "更正", "action": "save"})
    assert response.status_code == 302, re.findall(
        r'data-error-for="([^"]+)">(.*?)</div>', response.get_data(as_text=True)
    )
    after = laid.get(f"/api/v1/plots/{plot['id']}").get_json()
    assert after["notes"] == "更正" and after["habitat"] == "paddy"
    assert after["quadrats"] == before["quadrats"]


def test_add_rows_keeps_what_was_typed(laid: Any, web_as: Any) -> None:
    plot = laid.plot
    web = web_as(laid.user)
    form = _form(web.get(f"/plots/{plot['id']}/edit").get_data(as_text=True))
    form.update(
        {"quadrats-0-records-2-species": "福寿螺", "quadrats-0-records-2-count": "4", "action": "more"}
    )
    page = web.post(f"/plots/{plot['id']}/edit", data=form).get_data(as_text=True)
    again = _form(page)
    assert again["quadrats-0-records-2-species"] == "福寿螺" and again["quadrats-0-records-2-count"] == "4"
    assert again["quadrats-0-records-3-species"] == ""  # one more blank row
    assert (
        laid.get(f"/api/v1/plots/{plot['id']}").get_json()["quadrats"][0]["records"][-1]["species_name_zh"]
        != "福寿螺"
    )


def test_only_its_surveyor_edits_and_not_after_its_campaign(laid: Any, web_as: Any, api_as: Any) -> None:
    plot = laid.plot
    colleague = web_as("surveyor", "forestry")
    assert colleague.get(f"/plots/{plot['id']}/edit").status_code == 403
    assert colleague.post(f"/plots/{plot['id']}/edit", data={"action": "save"}).status_code == 403
    assert "data-plot-edit-link" not in colleague.get(f"/plots/{plot['id']}").get_data(as_text=True)


def test_a_plot_of_an_ended_campaign_is_not_edited(
    api_as: Any, web_as: Any, make_user: Any, make_observation: Any, species_id: Any
) -> None:
    surveyor = api_as("surveyor")
    site = make_observation(surveyor)
    campaign_id = _campaign(make_user)
    body = plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    plot = surveyor.post("/api/v1/plots", json=body).get_json()
    campaign = db.session.get(Campaign, campaign_id)
    assert campaign is not None
    campaign.ends_on = local_today() - timedelta(days=1)
    db.session.commit()
    web = web_as(surveyor.user)
    assert web.get(f"/plots/{plot['id']}/edit").status_code == 409
    assert web.post(f"/plots/{plot['id']}/edit", data={"action": "save"}).status_code == 409
    assert "data-plot-edit-link" not in web.get(f"/plots/{plot['id']}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"quadrats-0-number": "abc"}, "quadrats-0-number", "不是有效的整数"),
        ({"quadrats-0-number": "1.5"}, "quadrats-0-number", "不是有效的整数"),
        ({"quadrats-1-size_m2": ""}, "quadrats-1-size_m2", "不能为空"),
        ({"quadrats-1-size_m2": "wide"}, "quadrats-1-size_m2", "不是有效的数字"),
        ({"quadrats-2-notes": "注" * 2001}, "quadrats-2-notes", "2000"),
        ({"quadrats-0-records-0-height_cm": "tall"}, "quadrats-0-records-0-height_cm", "不是有效的数字"),
        ({"notes": "记" * 5001}, "notes", "5000"),
    ],
)
def test_a_row_typed_wrong_is_422_naming_its_row_and_field_in_chinese(
    laid: Any, web_as: Any, change: dict[str, str], field: str, message: str
) -> None:
    plot = laid.plot
    before = laid.get(f"/api/v1/plots/{plot['id']}").get_json()
    web = web_as(laid.user)
    form = {**_form(web.get(f"/plots/{plot['id']}/edit").get_data(as_text=True)), **change, "action": "save"}
    response = web.post(f"/plots/{plot['id']}/edit", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    found = re.search(rf'data-error-for="{field}">(.*?)</div>', page, re.S)
    assert found, re.findall(r'data-error-for="([^"]+)"', page)
    assert message in found.group(1), found.group(1)
    assert laid.get(f"/api/v1/plots/{plot['id']}").get_json() == before


def test_the_rows_are_read_in_their_order_and_only_those_a_form_holds() -> None:
    sent = {
        "quadrats-1-number": " 7 ",
        "quadrats-0-number": "3",
        "quadrats-0-records-2-species": "福寿螺",
        "quadrats-0-records-0-count": "4",
        "quadrats-0-records-0-remove": "1",
        "quadrats-0-records-0-unknown": "x",
        f"quadrats-0-records-{MAX_RECORD_ROWS}-species": "too far",
        f"quadrats-{MAX_QUADRAT_ROWS}-number": "too far",
        "quadrats-x-number": "not a row",
    }
    rows = QuadratRowsForm().load(sent)["quadrats"]
    assert [r["number"] for r in rows] == ["3", "7"]
    assert [(r["species"], r["count"], r["remove"]) for r in rows[0]["records"]] == [
        ("", "4", True),
        ("福寿螺", "", False),
    ]
    assert rows[1] == {
        "number": "7",
        "size_m2": "",
        "notes": "",
        "remove": False,
        "new": False,
        "records": [],
    }
