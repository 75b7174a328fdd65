"""The pages a bureau admin keeps the registry with: district lists, rows, confirmations, imports."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.species.models import ListMembership, Origin, SpeciesList


def flashes(web: Any) -> list[tuple[str, str]]:
    with web.client.session_transaction() as session:
        return list(session.get("_flashes", []))


def periods(code: str) -> list[tuple[str, date | None, date | None]]:
    rows = db.session.execute(
        sa.select(ListMembership.name_as_listed, ListMembership.added_on, ListMembership.removed_on)
        .join(SpeciesList)
        .where(SpeciesList.code == code)
        .order_by(ListMembership.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def agri(web_as: Any) -> Any:
    web = web_as("bureau_admin", "agriculture")
    response = web.post(
        "/admin/species-lists", data={"code": "lp-agri", "name": "农业普查清单", "bureau": "agriculture"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/admin/species-lists/lp-agri"
    )
    return web


def test_a_district_list_is_created_and_kept_by_its_bureau(agri: Any, web_as: Any) -> None:
    created = db.session.scalar(sa.select(SpeciesList).where(SpeciesList.code == "lp-agri"))
    assert created is not None and created.origin == Origin.LOCAL and created.bureau == "agriculture"
    page = agri.get("/admin/species-lists/lp-agri").get_data(as_text=True)
    assert "data-member-add" in page and "data-list-import" in page
    # The other bureau sees the list but not the forms.
    other = web_as("bureau_admin", "forestry").get("/admin/species-lists/lp-agri").get_data(as_text=True)
    assert "data-member-add" not in other


def test_add_by_a_name_people_type_then_remove_keeps_history(agri: Any) -> None:
    response = agri.post(
        "/admin/species-lists/lp-agri/members", data={"name": "金宝螺", "added_on": "2025-03-01"}
    )
    assert response.status_code == 302
    assert ("info", "福寿螺 added to the list.") in flashes(agri) or any(
        c == "info" for c, _m in flashes(agri)
    )
    membership_id = db.session.scalar(
        sa.select(ListMembership.id).join(SpeciesList).where(SpeciesList.code == "lp-agri")
    )
    removed = agri.post(
        f"/admin/species-lists/lp-agri/members/{membership_id}/remove", data={"removed_on": "2025-09-01"}
    )
    assert removed.status_code == 302
    assert periods("lp-agri") == [("福寿螺", date(2025, 3, 1), date(2025, 9, 1))]
    page = agri.get("/admin/species-lists/lp-agri").get_data(as_text=True)
    changes = page.split("data-changes", 1)[1]
    assert changes.index("2025-09-01") < changes.index("2025-03-01")  # latest first
    assert (
        "福寿螺"
        in agri.get("/admin/species-lists/lp-agri?on=2025-06-01")
        .get_data(as_text=True)
        .split("data-changes")[0]
    )


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": "不存在的草"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "福寿螺", "added_on": "2025-13-01"}, "added_on"),
    ],
)
def test_a_refused_add_says_why_and_changes_nothing(agri: Any, form: dict[str, str], field: str) -> None:
    agri.post("/language", data={"lang": "en", "next": "/"})
    response = agri.post("/admin/species-lists/lp-agri/members", data=form)
    assert response.status_code == 302
    errors = [m for c, m in flashes(agri) if c == "error"]
    label = {"name": "Name", "added_on": "Added on"}[field]
    assert errors and f"Invalid value for {label}" in errors[0]
    assert periods("lp-agri") == []


def test_an_overlapping_add_is_refused(agri: Any) -> None:
    agri.post("/admin/species-lists/lp-agri/members", data={"name": "福寿螺", "added_on": "2025-03-01"})
    agri.post(
        "/admin/species-lists/lp-agri/members",
        data={"name": "Pomacea canaliculata", "added_on": "2025-04-01"},
    )
    assert len(periods("lp-agri")) == 1
    assert any(c == "error" for c, _m in flashes(agri))


def test_confirm_a_row_of_the_published_list(web_as: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    row40 = db.session.scalar(
        sa.select(ListMembership)
        .join(SpeciesList)
        .where(SpeciesList.code == "moa-567", ListMembership.row == 40)
    )
    assert row40 is not None
    page = web.get("/admin/species-lists/moa-567").get_data(as_text=True)
    assert f'data-confirm="{row40.id}"' in page
    response = web.post(
        f"/admin/species-lists/moa-567/members/{row40.id}/confirm", data={"note": "官方页面核实"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ListMembership, row40.id).confirmation_note == "官方页面核实"  # type: ignore[union-attr]
    page = web.get("/admin/species-lists/moa-567").get_data(as_text=True)
    assert f'data-confirm="{row40.id}"' not in page and "官方页面核实" in page
    # The agriculture bureau is offered no confirm form for a forestry pest.
    other = web_as("bureau_admin", "agriculture").get("/admin/species-lists/moa-567").get_data(as_text=True)
    row41 = db.session.scalar(
        sa.select(ListMembership.id)
        .join(SpeciesList)
        .where(SpeciesList.code == "moa-567", ListMembership.row == 41)
    )
    assert f'data-confirm="{row41}"' not in other


def test_import_page_reports_then_adds(agri: Any) -> None:
    data = "名称\n福寿螺\n水花生\n不存在的草\n".encode()
    report = agri.post(
        "/admin/species-lists/lp-agri/import",
        data={"file": (io.BytesIO(data), "names.csv")},
        content_type="multipart/form-data",
    )
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    assert html.count('data-status="matched"') == 2 and html.count('data-status="unknown"') == 1
    assert periods("lp-agri") == []
    applied = agri.post(
        "/admin/species-lists/lp-agri/import",
        data={"file": (io.BytesIO(data), "names.csv"), "apply": "1"},
        content_type="multipart/form-data",
    )
    assert applied.status_code == 200 and applied.get_data(as_text=True).count('data-status="added"') == 2
    assert [p[0] for p in periods("lp-agri")] == ["福寿螺", "水花生"]
    bad = agri.post(
        "/admin/species-lists/lp-agri/import",
        data={"file": (io.BytesIO(b"x"), "names.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "form",
    [{}, {"file": (io.BytesIO(b""), "")}, {"file": (io.BytesIO(b"x"), "names.csv"), "apply": "perhaps"}],
)
def test_import_page_names_a_bad_input_in_chinese(agri: Any, form: dict[str, Any]) -> None:
    response = agri.post("/admin/species-lists/lp-agri/import", data=form, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    named = "立即添加匹配到的物种" if "apply" in form else "文件"
    assert named in html and ("apply" in form or "请选择列有物种名称的表格文件" in html)
    assert periods("lp-agri") == []


def test_a_bad_new_list_says_why(agri: Any) -> None:
    agri.post("/language", data={"lang": "en", "next": "/"})
    response = agri.post("/admin/species-lists", data={"code": "moa-567", "name": "重复"})
    assert response.status_code == 302
    assert any(c == "error" and "Invalid value for Code" in m for c, m in flashes(agri))


def species_by_key(key: str) -> Any:
    from app.species.models import Species

    return db.session.scalar(sa.select(Species).where(Species.key == key))


def test_edit_a_species_local_names_readings_and_bureaus(web_as: Any, api_as: Any) -> None:
    web = web_as("bureau_admin", "agriculture")
    snail = species_by_key("pomacea-canaliculata")
    page = web.get(f"/admin/species/{snail.id}").get_data(as_text=True)
    assert "data-species-edit" in page and "大瓶螺" in page  # the files' aliases shown
    response = web.post(
        f"/admin/species/{snail.id}",
        data={
            "aliases": "螺蛳王\n\n",
            "synonyms": "",
            "names_en": "channeled apple snail",
            "pinyin": "螺蛳王 = luo si wang",
            "bureaus_shown": "1",
            "bureaus": ["agriculture", "forestry"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    found = api_as("surveyor").get("/api/v1/species?q=lsw").json["items"]
    assert found[0]["name_zh"] == "福寿螺"
    db.session.expire_all()
    assert species_by_key("pomacea-canaliculata").local_pinyin == {"螺蛳王": "luo si wang"}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"aliases": "水葫芦"}, "aliases"),
        ({"pinyin": "螺蛳王 luo si wang", "aliases": "螺蛳王"}, "pinyin"),
        ({"pinyin": "福寿螺 = fu 5hou luo"}, "pinyin"),
    ],
)
def test_a_bad_species_edit_is_422_naming_the_field(web_as: Any, form: dict[str, str], message: str) -> None:
    web = web_as("admin")
    web.post("/language", data={"lang": "en", "next": "/"})
    snail = species_by_key("pomacea-canaliculata")
    response = web.post(f"/admin/species/{snail.id}", data=form)
    assert response.status_code == 422
    label = {"aliases": "Other names", "pinyin": "Pinyin"}[message]
    assert f"Invalid value for {label}" in response.get_data(as_text=True)
    db.session.expire_all()
    assert species_by_key("pomacea-canaliculata").local_aliases == []


def test_the_other_bureau_sees_no_form_and_cannot_post(web_as: Any) -> None:
    web = web_as("bureau_admin", "agriculture")
    moth = species_by_key("hyphantria-cunea")  # forestry only
    assert "data-species-edit" not in web.get(f"/admin/species/{moth.id}").get_data(as_text=True)
    assert web.post(f"/admin/species/{moth.id}", data={"aliases": "x"}).status_code == 403


def test_a_new_species_page(web_as: Any) -> None:
    web = web_as("bureau_admin", "agriculture")
    assert "data-species-new" in web.get("/admin/species/new").get_data(as_text=True)
    response = web.post(
        "/admin/species/new",
        data={
            "name_zh": "小管福寿螺",
            "name_sci": "Pomacea maculata",
            "like": "福寿螺",
            "bureaus": "agriculture",
        },
    )
    assert response.status_code == 302
    new = species_by_key("pomacea-maculata")
    assert new is not None and new.origin == Origin.LOCAL and new.bureaus == ["agriculture"]
    again = web.post(
        "/admin/species/new", data={"name_zh": "另一个", "name_sci": "Pomacea maculata", "like": "福寿螺"}
    )
    assert again.status_code == 422
    unknown_like = web.post(
        "/admin/species/new", data={"name_zh": "另一个", "name_sci": "Pomacea x", "like": "不存在"}
    )
    assert unknown_like.status_code == 422


def test_an_unverified_rows_source_status_is_shown_in_the_readers_language(web_as: Any) -> None:
    """The badge of an unverified row of the 567 list explained itself with the source's status as
    stored ("unconfirmed", "partly corroborated"): English words on a Chinese page (found by
    tests/test_crawl.py)."""
    page = web_as("bureau_admin", "forestry").get("/admin/species-lists/moa-567").get_data(as_text=True)
    assert 'title="unconfirmed"' not in page and 'title="partly corroborated"' not in page
    assert 'title="来源未证实"' in page and 'title="仅部分得到其他来源佐证"' in page
    english = web_as("bureau_admin", "forestry", locale="en").get("/admin/species-lists/moa-567")
    assert 'title="unconfirmed by the source"' in english.get_data(as_text=True)
