"""The census categories a species list reports (species_lists/README.md): the shipped 林草 census lists'
from lists.toml, a district list's edited in the app, checked, and shown on the list page."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.species.models import SpeciesList
from app.species.registry import RegistryError, read_registry

REGISTRY = Path(__file__).resolve().parents[2] / "species_lists"
FG = ["fg_plant", "fg_pest", "fg_animal"]


def stored(code: str) -> list[str]:
    db.session.expire_all()
    found = db.session.scalar(sa.select(SpeciesList.census_categories).where(SpeciesList.code == code))
    assert found is not None
    return list(found)


def flashes(web: Any) -> list[tuple[str, str]]:
    with web.client.session_transaction() as session:
        return list(session.get("_flashes", []))


@pytest.fixture
def forestry(api_as: Any) -> Any:
    api = api_as("bureau_admin", "forestry")
    created = api.post(
        "/api/v1/species-lists",
        json={
            "code": "lp-forest-census",
            "name": "梁平区林草外来入侵物种普查清单",
            "census_categories": ["fg_plant"],
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["census_categories"] == ["fg_plant"]
    return api


def test_the_shipped_forestry_census_lists_report_their_categories(api_as: Any) -> None:
    api = api_as("surveyor", "forestry")
    assert api.get("/api/v1/species-lists/lp-forestry-national").json["census_categories"] == FG
    supplement = api.get("/api/v1/species-lists/cq-forestry-supplement").json
    assert supplement["census_categories"] == ["fg_plant"] and supplement["species_count"] == 13
    assert api.get("/api/v1/species-lists/moa-567").json["census_categories"] == []
    assert api.get("/api/v1/species-lists/nowhere").status_code == 404


def test_a_bureau_admin_sets_the_categories_of_their_district_list(forestry: Any) -> None:
    changed = forestry.patch("/api/v1/species-lists/lp-forest-census", json={"census_categories": FG})
    assert changed.status_code == 200, changed.json
    assert changed.json["census_categories"] == FG
    assert stored("lp-forest-census") == FG
    listed = {sl["code"]: sl for sl in forestry.get("/api/v1/species-lists?per_page=100").json["items"]}
    assert listed["lp-forest-census"]["census_categories"] == FG
    emptied = forestry.patch("/api/v1/species-lists/lp-forest-census", json={"census_categories": []})
    assert emptied.status_code == 200 and stored("lp-forest-census") == []
    list_id = db.session.scalar(sa.select(SpeciesList.id).where(SpeciesList.code == "lp-forest-census"))
    audit = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_type == "species_lists", AuditLog.entity_id == str(list_id))
    ).all()
    assert sum("census_categories" in (a.changes or {}) for a in audit) >= 2  # each change is audited


@pytest.mark.parametrize(
    "categories",
    [
        ["fg_trees"],  # unknown
        ["fg_plant", "fg_plant"],  # twice
        ["fg_plant", "ag_plant"],  # the agriculture census's, on a forestry list
        "fg_plant",  # not a list
    ],
)
def test_bad_categories_are_422_naming_the_field_and_change_nothing(forestry: Any, categories: Any) -> None:
    refused = forestry.patch("/api/v1/species-lists/lp-forest-census", json={"census_categories": categories})
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["census_categories"]
    assert stored("lp-forest-census") == ["fg_plant"]
    created = forestry.post(
        "/api/v1/species-lists",
        json={"code": "lp-forest-2", "name": "第二份清单", "census_categories": categories},
    )
    assert created.status_code == 422 and list(created.json["errors"]) == ["census_categories"]
    assert db.session.scalar(sa.select(SpeciesList.id).where(SpeciesList.code == "lp-forest-2")) is None


def test_the_categories_are_required_to_patch(forestry: Any) -> None:
    refused = forestry.patch("/api/v1/species-lists/lp-forest-census", json={})
    assert refused.status_code == 422 and "census_categories" in refused.json["errors"]


def test_only_the_lists_bureau_edits_it_and_published_lists_change_through_their_files(
    forestry: Any, api_as: Any
) -> None:
    other = api_as("bureau_admin", "agriculture")
    refused = other.patch("/api/v1/species-lists/lp-forest-census", json={"census_categories": FG})
    assert refused.status_code == 403
    surveyor = api_as("surveyor", "forestry")
    assert (
        surveyor.patch("/api/v1/species-lists/lp-forest-census", json={"census_categories": FG}).status_code
        == 403
    )
    assert stored("lp-forest-census") == ["fg_plant"]
    published = forestry.patch("/api/v1/species-lists/lp-forestry-national", json={"census_categories": []})
    assert published.status_code == 422 and list(published.json["errors"]) == ["code"]
    assert stored("lp-forestry-national") == FG


def test_the_list_page_shows_and_edits_the_categories(forestry: Any, web_as: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    page = web.get("/admin/species-lists/lp-forest-census").get_data(as_text=True)
    shown = page.split("data-list-categories", 1)[1].split("</dd>", 1)[0]
    assert "林草外来入侵植物" in shown and "林草外来入侵动物" not in shown
    form = page.split("data-categories-form", 1)[1].split("</form>", 1)[0]
    assert 'value="fg_animal"' in form and 'value="ag_plant"' not in form  # only its own census's

    saved = web.post("/admin/species-lists/lp-forest-census/categories", data={"census_categories": FG})
    assert saved.status_code == 302 and stored("lp-forest-census") == FG
    shown = (
        web.get("/admin/species-lists/lp-forest-census")
        .get_data(as_text=True)
        .split("data-list-categories")[1]
    )
    assert "林草外来入侵动物" in shown.split("</dd>", 1)[0]

    web.post("/language", data={"lang": "en", "next": "/"})
    refused = web.post(
        "/admin/species-lists/lp-forest-census/categories", data={"census_categories": ["ag_pest"]}
    )
    assert refused.status_code == 302
    errors = [m for c, m in flashes(web) if c == "error"]
    assert errors and "Census categories" in errors[0] and "ag_pest" in errors[0]
    assert stored("lp-forest-census") == FG

    # The other bureau sees the categories but not the form; a published list shows its files' categories.
    other = (
        web_as("bureau_admin", "agriculture")
        .get("/admin/species-lists/lp-forest-census")
        .get_data(as_text=True)
    )
    assert "data-list-categories" in other and "data-categories-form" not in other
    national = web.get("/admin/species-lists/lp-forestry-national").get_data(as_text=True)
    assert "data-categories-form" not in national
    assert "Invasive forest pests and diseases" in national.split("data-list-categories")[1].split("</dd>")[0]


def test_the_files_are_checked_for_unknown_list_categories(tmp_path: Path) -> None:
    copy = tmp_path / "species_lists"
    shutil.copytree(REGISTRY, copy)
    lists = copy / "lists.toml"
    text = lists.read_text(encoding="utf-8")
    lists.write_text(
        text.replace('census_categories = ["fg_plant"]\n', 'census_categories = ["trees"]\n'), "utf-8"
    )
    with pytest.raises(RegistryError) as raised:
        read_registry(copy)
    assert any("cq-forestry-supplement" in p and "trees" in p for p in raised.value.problems)
    assert read_registry(REGISTRY).lists["lp-forestry-national"].census_categories == tuple(FG)
