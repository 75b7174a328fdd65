"""The registry kept in the app: district lists, periods, local names and bureaus, row confirmations.

Local edits live in the database beside the files; `flask species sync` never overwrites them and
reports where the two differ.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.species import district_lists
from app.species.models import ListMembership, Species, SpeciesList
from app.species.services import members_on
from app.species.sync import sync_registry

REGISTRY = Path(__file__).resolve().parents[2] / "species_lists"


def species_id(key: str) -> int:
    found = db.session.scalar(sa.select(Species.id).where(Species.key == key))
    assert found is not None
    return found


def search(api: Any, q: str) -> list[str]:
    return [i["name_zh"] for i in api.get("/api/v1/species", query_string={"q": q}).json["items"]]


@pytest.fixture
def agri(api_as: Any) -> Any:
    return api_as("bureau_admin", "agriculture")


@pytest.fixture
def district_list(agri: Any) -> str:
    response = agri.post(
        "/api/v1/species-lists",
        json={
            "code": "lp-agri-census",
            "name": "梁平区农业外来入侵物种普查清单",
            "short_name": "农业普查清单",
        },
    )
    assert response.status_code == 201, response.json
    return "lp-agri-census"


# ---------------------------------------------------------------------------------------------
# District lists and membership periods


def test_a_bureau_admin_creates_their_district_list(agri: Any, district_list: str) -> None:
    lists = {sl["code"]: sl for sl in agri.get("/api/v1/species-lists?per_page=100").json["items"]}
    created = lists[district_list]
    assert created["level"] == "district" and created["origin"] == "local"
    assert created["bureau"] == "agriculture" and created["species_count"] == 0
    assert created["issuer"] == db.session.scalar(
        sa.text("select name from organizations where code = 'agriculture'")
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "moa-567", "name": "重复"}, "code"),
        ({"code": "Bad Code!", "name": "x"}, "code"),
        ({"code": "lp-x", "name": "x", "bureau": "nowhere"}, "bureau"),
        ({"code": "lp-x"}, "name"),
    ],
)
def test_bad_list_input_is_422_naming_the_field(agri: Any, body: dict[str, Any], field: str) -> None:
    response = agri.post("/api/v1/species-lists", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_a_bureau_admin_cannot_create_a_list_for_the_other_bureau(agri: Any) -> None:
    response = agri.post("/api/v1/species-lists", json={"code": "lp-f", "name": "林业", "bureau": "forestry"})
    assert response.status_code == 403
    assert services_find("lp-f") is None


def services_find(code: str) -> SpeciesList | None:
    return db.session.scalar(sa.select(SpeciesList).where(SpeciesList.code == code))


def test_remove_and_add_back_keeps_the_past(agri: Any, district_list: str) -> None:
    snail = species_id("pomacea-canaliculata")
    url = f"/api/v1/species-lists/{district_list}/members"
    first = agri.post(url, json={"species_id": snail, "added_on": "2025-03-01"})
    assert first.status_code == 201, first.json
    assert first.json["row"] == 1 and first.json["name_as_listed"] == "福寿螺"
    removed = agri.patch(f"{url}/{first.json['id']}", json={"removed_on": "2025-09-01"})
    assert removed.status_code == 200, removed.json
    again = agri.post(url, json={"species_id": snail, "added_on": "2026-04-01"})
    assert again.status_code == 201, again.json

    def on(day: str) -> list[int]:
        items = agri.get(f"{url}?on={day}").json["items"]
        return [i["species"]["id"] for i in items]

    assert on("2025-02-28") == []
    assert on("2025-06-01") == [snail]
    assert on("2025-09-01") == []  # removed on that day
    assert on("2026-01-01") == []
    assert on("2026-04-01") == [snail]
    # Both periods are kept as rows.
    periods = db.session.scalars(
        sa.select(ListMembership)
        .where(ListMembership.species_id == snail)
        .join(SpeciesList)
        .where(SpeciesList.code == district_list)
    ).all()
    assert sorted((p.added_on, p.removed_on) for p in periods) == [
        (date(2025, 3, 1), date(2025, 9, 1)),
        (date(2026, 4, 1), None),
    ]
    changes = agri.get(f"/api/v1/species-lists/{district_list}/changes").json
    assert [(c["on"], c["change"]) for c in changes] == [
        ("2026-04-01", "added"),
        ("2025-09-01", "removed"),
        ("2025-03-01", "added"),
    ]


@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"added_on": "2025-05-01"}, "added_on"),  # inside the first period
        ({"added_on": "2025-01-01", "removed_on": "2025-04-01"}, "added_on"),  # overlaps its start
        ({"added_on": "2024-01-01", "removed_on": "2023-01-01"}, "removed_on"),  # ends before it starts
    ],
)
def test_an_overlapping_period_is_422(
    agri: Any, district_list: str, second: dict[str, Any], field: str
) -> None:
    url = f"/api/v1/species-lists/{district_list}/members"
    snail = species_id("pomacea-canaliculata")
    assert agri.post(url, json={"species_id": snail, "added_on": "2025-03-01"}).status_code == 201
    response = agri.post(url, json={"species_id": snail, **second})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert (
        len(
            db.session.scalars(
                sa.select(ListMembership)
                .where(ListMembership.species_id == snail)
                .join(SpeciesList)
                .where(SpeciesList.code == district_list)
            ).all()
        )
        == 1
    )


def test_editing_a_period_into_another_is_422(agri: Any, district_list: str) -> None:
    url = f"/api/v1/species-lists/{district_list}/members"
    snail = species_id("pomacea-canaliculata")
    first = agri.post(url, json={"species_id": snail, "added_on": "2025-03-01", "removed_on": "2025-06-01"})
    second = agri.post(url, json={"species_id": snail, "added_on": "2025-07-01"})
    assert first.status_code == second.status_code == 201
    response = agri.patch(f"{url}/{first.json['id']}", json={"removed_on": "2025-08-01"})
    assert response.status_code == 422 and "added_on" in response.json["errors"]


def test_published_lists_change_only_through_their_files(agri: Any) -> None:
    response = agri.post(
        "/api/v1/species-lists/moa-567/members", json={"species_id": species_id("daucus-carota")}
    )
    assert response.status_code == 422 and "code" in response.json["errors"]


def test_the_other_bureau_cannot_edit_a_district_list(api_as: Any, district_list: str) -> None:
    forestry = api_as("bureau_admin", "forestry")
    response = forestry.post(
        f"/api/v1/species-lists/{district_list}/members", json={"species_id": species_id("daucus-carota")}
    )
    assert response.status_code == 403


def test_sync_leaves_a_district_list_alone(agri: Any, district_list: str) -> None:
    url = f"/api/v1/species-lists/{district_list}/members"
    assert agri.post(url, json={"species_id": species_id("daucus-carota")}).status_code == 201
    db.session.expire_all()
    report = sync_registry(REGISTRY)
    assert not report.changed_anything
    species_list = services_find(district_list)
    assert species_list is not None
    assert len(db.session.scalars(members_on(species_list, None)).all()) == 1


def test_sync_remove_and_add_back_keeps_both_periods(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "species_lists"
    shutil.copytree(REGISTRY, copy)
    members = copy / "members" / "mee-ias-1.csv"
    original = members.read_text(encoding="utf-8")
    dropped = next(line for line in original.splitlines() if "pomacea-canaliculata" in line)
    members.write_text(original.replace(dropped + "\n", ""), encoding="utf-8")
    assert sync_registry(copy, today=date(2027, 1, 10)).memberships.retired == 1
    members.write_text(original, encoding="utf-8")
    assert sync_registry(copy, today=date(2027, 5, 1)).memberships.added == 1

    batch1 = services_find("mee-ias-1")
    assert batch1 is not None

    def count(on: date) -> int:
        return len(db.session.scalars(members_on(batch1, on)).all())

    assert (count(date(2027, 1, 9)), count(date(2027, 1, 10)), count(date(2027, 5, 1))) == (16, 15, 16)
    snail_rows = [m for m in batch1.memberships if m.species.key == "pomacea-canaliculata"]
    assert sorted((m.added_on or date.min, m.removed_on or date.max) for m in snail_rows) == [
        (date.min, date(2027, 1, 10)),
        (date(2027, 5, 1), date.max),
    ]
    assert not sync_registry(copy, today=date(2027, 5, 2)).changed_anything


# ---------------------------------------------------------------------------------------------
# Local names, readings and bureaus


def test_local_aliases_are_searchable_with_their_pinyin(agri: Any) -> None:
    snail = species_id("pomacea-canaliculata")
    response = agri.patch(
        f"/api/v1/species/{snail}",
        json={
            "aliases": ["螺蛳王"],
            "names_en": ["channeled apple snail"],
            "pinyin": {"螺蛳王": "luo si wang"},
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["local"]["aliases"] == ["螺蛳王"]
    assert "螺蛳王" in response.json["aliases"] and "大瓶螺" in response.json["aliases"]
    for q in ("螺蛳王", "lsw", "luosiwang", "channeled apple"):
        assert search(agri, q)[:1] == ["福寿螺"], q
    audit = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_type == "species", AuditLog.entity_id == str(snail))
    ).all()
    assert any("local_aliases" in (a.changes or {}) for a in audit)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aliases": ["水葫芦"]}, "aliases"),  # 凤眼莲's
        ({"aliases": ["凤眼莲"]}, "aliases"),  # another species' name
        ({"pinyin": {"福寿螺": "fu shou 1uo"}}, "pinyin"),
        ({"pinyin": {"福寿螺": "fu-shou-luo"}}, "pinyin"),
        ({"pinyin": {"福寿螺": "fu shou"}}, "pinyin"),  # one syllable short
        ({"pinyin": {"水葫芦": "shui hu lu"}}, "pinyin"),  # not this species' name
        ({"synonyms": ["Eichhornia crassipes"]}, "synonyms"),  # another species' scientific name
        ({"bureaus": ["nowhere"]}, "bureaus"),
        ({"aliases": "福寿"}, "aliases"),
    ],
)
def test_bad_local_edits_are_422_naming_the_field(api_as: Any, body: dict[str, Any], field: str) -> None:
    admin = api_as("admin")
    snail = species_id("pomacea-canaliculata")
    before = db.session.get(Species, snail)
    assert before is not None
    aliases_before = list(before.local_aliases)
    response = admin.patch(f"/api/v1/species/{snail}", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    db.session.expire_all()
    assert db.session.get(Species, snail).local_aliases == aliases_before  # type: ignore[union-attr]


def test_a_bureau_admin_edits_only_their_bureaus_species(api_as: Any) -> None:
    forestry = api_as("bureau_admin", "forestry")
    moth = species_id("hyphantria-cunea")  # 美国白蛾: forestry only
    assert forestry.patch(f"/api/v1/species/{moth}", json={"names_en": ["fall webworm"]}).status_code == 200
    agri = api_as("bureau_admin", "agriculture")
    assert agri.patch(f"/api/v1/species/{moth}", json={"names_en": ["x"]}).status_code == 403
    assert api_as("supervisor", "forestry").patch(f"/api/v1/species/{moth}", json={}).status_code == 403


def test_bureau_assignment_and_census_categories_follow(api_as: Any) -> None:
    carrot = species_id("daucus-carota")  # agriculture and forestry
    # Taking away the other bureau is not a bureau admin's to do.
    agri = api_as("bureau_admin", "agriculture")
    assert agri.patch(f"/api/v1/species/{carrot}", json={"bureaus": ["agriculture"]}).status_code == 403
    forestry = api_as("bureau_admin", "forestry")
    response = forestry.patch(f"/api/v1/species/{carrot}", json={"bureaus": ["agriculture"]})
    assert response.status_code == 200, response.json
    assert response.json["bureaus"] == ["agriculture"]
    assert response.json["census_categories"] == ["ag_plant"]
    assert response.json["local"]["bureaus"] == ["agriculture"]
    # Once it is agriculture's only, forestry may no longer edit it.
    assert (
        forestry.patch(f"/api/v1/species/{carrot}", json={"bureaus": ["agriculture", "forestry"]}).status_code
        == 403
    )


def test_sync_after_local_edits_loses_nothing_and_reports_differences(api_as: Any) -> None:
    admin = api_as("admin")
    snail = species_id("pomacea-canaliculata")
    dodder = species_id("cuscuta-japonica")
    assert admin.patch(f"/api/v1/species/{snail}", json={"aliases": ["螺蛳王", "大瓶螺"]}).status_code == 200
    assert admin.patch(f"/api/v1/species/{dodder}", json={"bureaus": ["forestry"]}).status_code == 200
    row40 = db.session.scalar(
        sa.select(ListMembership)
        .join(SpeciesList)
        .where(SpeciesList.code == "moa-567", ListMembership.row == 40)
    )
    assert row40 is not None and not row40.verified
    confirm = admin.post(
        f"/api/v1/species-lists/moa-567/members/{row40.id}/confirm",
        json={"note": "对照农业农村部官方页面 2026-12-01 核实"},
    )
    assert confirm.status_code == 200 and confirm.json["verified"] is True

    db.session.expire_all()  # the requests wrote through their own sessions
    report = sync_registry(REGISTRY)
    db.session.expire_all()
    snail_row = db.session.get(Species, snail)
    dodder_row = db.session.get(Species, dodder)
    assert snail_row is not None and dodder_row is not None
    assert snail_row.local_aliases == ["螺蛳王"]  # 大瓶螺 is the files' already: not kept twice
    assert search(admin, "螺蛳王")[:1] == ["福寿螺"]
    assert dodder_row.bureaus == ["forestry"] and dodder_row.local_bureaus == ["forestry"]
    row40 = db.session.get(ListMembership, row40.id)
    assert row40 is not None and row40.confirmed_at is not None and not row40.verified
    assert any("cuscuta-japonica" in d and "bureaus" in d for d in report.differences)
    assert any("moa-567 row 40" in d and "官方页面" in d for d in report.differences)
    assert not any("40 日本松干蚧" in f for f in report.flagged)  # no longer warned as unverified
    assert not sync_registry(REGISTRY).changed_anything


def test_confirming_needs_a_note_and_the_species_bureau(api_as: Any) -> None:
    row40 = db.session.scalar(
        sa.select(ListMembership)
        .join(SpeciesList)
        .where(SpeciesList.code == "moa-567", ListMembership.row == 40)
    )
    assert row40 is not None  # 日本松干蚧: forestry
    url = f"/api/v1/species-lists/moa-567/members/{row40.id}/confirm"
    forestry = api_as("bureau_admin", "forestry")
    assert forestry.post(url, json={"note": "  "}).status_code == 422
    assert forestry.post(url, json={}).status_code == 422
    assert api_as("bureau_admin", "agriculture").post(url, json={"note": "核实"}).status_code == 403
    assert api_as("surveyor", "forestry").post(url, json={"note": "核实"}).status_code == 403
    assert forestry.post(url, json={"note": "核实"}).status_code == 200
    assert (
        forestry.post(
            f"/api/v1/species-lists/mee-ias-1/members/{row40.id}/confirm", json={"note": "x"}
        ).status_code
        == 404
    )


# ---------------------------------------------------------------------------------------------
# New species


def test_a_new_species_copies_its_defaults_from_a_similar_one(agri: Any, district_list: str) -> None:
    like = species_id("pomacea-canaliculata")
    response = agri.post(
        "/api/v1/species",
        json={
            "name_zh": "小管福寿螺",
            "name_sci": "Pomacea maculata",
            "like": like,
            "aliases": ["斑点福寿螺"],
            "names_en": ["island apple snail"],
        },
    )
    assert response.status_code == 201, response.json
    new = response.json
    template = agri.get(f"/api/v1/species/{like}").json
    assert new["origin"] == "local" and new["group"] == "mollusc" and new["bureaus"] == ["agriculture"]
    assert new["follow_up_days"] == template["follow_up_days"]
    assert new["metrics"] == template["metrics"] and new["severity"] == template["severity"]
    assert new["census_categories"] == ["ag_pest"]
    assert search(agri, "斑点福寿螺")[:1] == ["小管福寿螺"]
    assert search(agri, "island apple")[:1] == ["小管福寿螺"]
    assert search(agri, "xgfsl")[:1] == ["小管福寿螺"]
    added = agri.post(f"/api/v1/species-lists/{district_list}/members", json={"species_id": new["id"]})
    assert added.status_code == 201
    # Sync neither retires nor changes it.
    db.session.expire_all()
    report = sync_registry(REGISTRY)
    assert report.species.retired == 0
    db.session.expire_all()
    kept = db.session.get(Species, new["id"])
    assert kept is not None and kept.retired_on is None and kept.local_aliases == ["斑点福寿螺"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name_sci": "Pomacea canaliculata"}, "name_sci"),  # duplicate scientific name
        ({"name_sci": "pomacea  CANALICULATA"}, "name_sci"),
        ({"name_zh": "福寿螺"}, "name_zh"),
        ({"name_zh": "金宝螺"}, "name_zh"),  # an alias of 福寿螺
        ({"aliases": ["大瓶螺"]}, "aliases"),
        ({"like": 999999}, "like"),
        ({"like": 3398620680}, "like"),  # beyond the database's integer (PostgreSQL refused the query: a 500)
        ({"like": 0}, "like"),
        ({"census_categories": ["fg_plant"]}, "census_categories"),
        ({"census_categories": ["dragon"]}, "census_categories"),
        ({"group": "dragon"}, "group"),
        ({"pinyin": {"小管福寿螺": "x1"}}, "pinyin"),
    ],
)
def test_bad_new_species_is_422_naming_the_field(agri: Any, body: dict[str, Any], field: str) -> None:
    count = db.session.scalar(sa.select(sa.func.count(Species.id)))
    base = {
        "name_zh": "小管福寿螺",
        "name_sci": "Pomacea maculata",
        "like": species_id("pomacea-canaliculata"),
    }
    response = agri.post("/api/v1/species", json={**base, **body})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert db.session.scalar(sa.select(sa.func.count(Species.id))) == count


def test_the_database_keeps_one_open_period_even_if_the_check_is_raced(
    agri: Any, district_list: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two requests that both passed the overlap check before either wrote: the index refuses the second.
    monkeypatch.setattr(district_lists, "_check_period", lambda *args, **kwargs: None)
    url = f"/api/v1/species-lists/{district_list}/members"
    snail = species_id("pomacea-canaliculata")
    assert agri.post(url, json={"species_id": snail, "added_on": "2025-03-01"}).status_code == 201
    second = agri.post(url, json={"species_id": snail, "added_on": "2025-04-01"})
    assert second.status_code == 422 and "added_on" in second.json["errors"]
    assert len(agri.get(url).json["items"]) == 1


def test_sync_reports_a_local_alias_the_files_now_give_another_species(api_as: Any, tmp_path: Path) -> None:
    import shutil

    admin = api_as("admin")
    snail = species_id("pomacea-canaliculata")
    assert admin.patch(f"/api/v1/species/{snail}", json={"aliases": ["螺蛳王"]}).status_code == 200
    copy = tmp_path / "species_lists"
    shutil.copytree(REGISTRY, copy)
    path = copy / "species.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('aliases = ["牛蛙"]', 'aliases = ["牛蛙", "螺蛳王"]', 1), encoding="utf-8")
    db.session.expire_all()
    report = sync_registry(copy)
    assert any(d.startswith("螺蛳王 is a name of 福寿螺, 美洲牛蛙") for d in report.differences), (
        report.differences
    )
    db.session.expire_all()
    kept = db.session.get(Species, snail)
    assert kept is not None and kept.local_aliases == ["螺蛳王"]  # nothing local lost


def test_the_changes_cost_the_same_queries_for_one_row_or_many(
    agri: Any, district_list: str, count_queries: Any
) -> None:
    url = f"/api/v1/species-lists/{district_list}/members"
    keys = [
        "daucus-carota",
        "galinsoga-parviflora",
        "veronica-persica",
        "oxalis-corymbosa",
        "erigeron-annuus",
    ]
    assert agri.post(url, json={"species_id": species_id(keys[0])}).status_code == 201
    with count_queries() as one:
        assert len(agri.get(f"/api/v1/species-lists/{district_list}/changes").json) == 1
    for key in keys[1:]:
        assert agri.post(url, json={"species_id": species_id(key)}).status_code == 201
    with count_queries() as five:
        assert len(agri.get(f"/api/v1/species-lists/{district_list}/changes").json) == 5
    assert len(five) == len(one)


def test_the_sync_command_lists_the_differences(app: Any, api_as: Any) -> None:
    admin = api_as("admin")
    dodder = species_id("cuscuta-japonica")
    assert admin.patch(f"/api/v1/species/{dodder}", json={"bureaus": ["forestry"]}).status_code == 200
    db.session.expire_all()
    result = app.test_cli_runner().invoke(args=["species", "sync"])
    assert result.exit_code == 0, result.output
    assert "local edits differing from the files (kept): 1" in result.output
    assert "日本菟丝子 (cuscuta-japonica): bureaus are forestry in the app" in result.output
