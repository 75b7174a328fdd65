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
    assert errors and f"Invalid value for {field}" in errors[0]
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


def test_a_bad_new_list_says_why(agri: Any) -> None:
    agri.post("/language", data={"lang": "en", "next": "/"})
    response = agri.post("/admin/species-lists", data={"code": "moa-567", "name": "重复"})
    assert response.status_code == 302
    assert any(c == "error" and "Invalid value for code" in m for c, m in flashes(agri))
