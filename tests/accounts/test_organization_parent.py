"""An organization's parent: the bureau a township station, forest farm or wetland park reports to."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import Organization
from app.census.scope import unit_ids
from app.extensions import db


def _org(code: str) -> Organization:
    org = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    assert org is not None
    return org


def _listed(api: Any) -> dict[str, Any]:
    response = api.get("/api/v1/organizations?per_page=500")
    assert response.status_code == 200
    return {item["code"]: item for item in response.get_json()["items"]}


def test_an_admin_creates_a_unit_under_a_bureau_and_the_list_shows_it(api_as: Any) -> None:
    admin = api_as("admin")
    created = admin.post(
        "/api/v1/organizations",
        json={
            "code": "liangshan-station",
            "name": "梁山街道农技站",
            "kind": "township_station",
            "parent": "agriculture",
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json() == {
        "code": "liangshan-station",
        "name": "梁山街道农技站",
        "kind": "township_station",
        "parent": "agriculture",
    }
    listed = _listed(admin)
    assert listed["liangshan-station"]["parent"] == "agriculture"
    assert listed["agriculture"]["parent"] is None
    assert unit_ids(_org("agriculture").id) == {_org("agriculture").id, _org("liangshan-station").id}
    assert unit_ids(_org("forestry").id) == {_org("forestry").id}

    moved = admin.patch("/api/v1/organizations/liangshan-station", json={"parent": "forestry"})
    assert moved.status_code == 200 and moved.get_json()["parent"] == "forestry"
    detached = admin.patch("/api/v1/organizations/liangshan-station", json={"parent": None})
    assert detached.status_code == 200 and detached.get_json()["parent"] is None
    assert _org("liangshan-station").parent_id is None


def _refused(response: Any, field: str) -> str:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert list(body["errors"]) == [field]
    return " ".join(body["errors"][field])


def test_a_parent_that_is_not_a_bureau_is_refused_naming_parent(api_as: Any) -> None:
    admin = api_as("admin")
    station = {
        "code": "a-station",
        "name": "礼让镇农技站",
        "kind": "township_station",
        "parent": "agriculture",
    }
    assert admin.post("/api/v1/organizations", json=station).status_code == 201

    under_station = {"code": "b-station", "name": "村站", "kind": "other", "parent": "a-station"}
    assert "礼让镇农技站" in _refused(admin.post("/api/v1/organizations", json=under_station), "parent")
    assert db.session.scalar(sa.select(Organization.id).where(Organization.code == "b-station")) is None

    unknown = {**under_station, "parent": "nowhere"}
    assert "nowhere" in _refused(admin.post("/api/v1/organizations", json=unknown), "parent")
    assert "nowhere" in _refused(
        admin.patch("/api/v1/organizations/a-station", json={"parent": "nowhere"}), "parent"
    )
    assert _org("a-station").parent is not None and _org("a-station").parent.code == "agriculture"  # type: ignore[union-attr]


def test_a_bureau_reports_to_no_other_bureau(api_as: Any, web_as: Any, make_user: Any) -> None:
    """Placing one bureau under the other gave its admins the other bureau's users, records and census;
    it is refused whichever bureau, and in the user's language (Chinese first)."""
    admin = api_as("admin")
    itself = _refused(admin.patch("/api/v1/organizations/forestry", json={"parent": "forestry"}), "parent")
    assert "不能隶属于自身" in itself
    refused = _refused(
        admin.patch("/api/v1/organizations/agriculture", json={"parent": "forestry"}), "parent"
    )
    assert "局不隶属于其他局" in refused
    _refused(admin.patch("/api/v1/organizations/forestry", json={"parent": "agriculture"}), "parent")
    english = admin.patch(
        "/api/v1/organizations/agriculture", json={"parent": "forestry"}, headers={"Accept-Language": "en"}
    )
    assert english.status_code == 422 and "reports to no other bureau" in " ".join(
        english.get_json()["errors"]["parent"]
    )
    new_bureau = {"code": "wetland-bureau", "name": "湿地局", "kind": "forestry_bureau", "parent": "forestry"}
    _refused(admin.post("/api/v1/organizations", json=new_bureau), "parent")
    assert _org("forestry").parent_id is None and _org("agriculture").parent_id is None
    assert db.session.scalar(sa.select(Organization.id).where(Organization.code == "wetland-bureau")) is None

    # So the forestry bureau's admins still manage their own users only, in the API and on the pages.
    farmer = make_user("surveyor", "agriculture", display_name="农业调查员甲")
    forestry_admin = api_as("bureau_admin", "forestry")
    listed = forestry_admin.get("/api/v1/users?per_page=500").get_json()["items"]
    assert farmer.id not in {u["id"] for u in listed}
    page = web_as("bureau_admin", "forestry")
    assert "农业调查员甲" not in page.get("/admin/users").get_data(as_text=True)
    new_user_page = page.get("/admin/users/new").get_data(as_text=True)
    assert 'value="agriculture"' not in new_user_page


def test_a_unit_under_another_unit_or_a_nested_bureau_is_refused(api_as: Any) -> None:
    """The parent must be a bureau that reports to none, even where an earlier version stored one under
    the other (inserted here as such a database holds it)."""
    admin = api_as("admin")
    _org("agriculture").parent = _org("forestry")
    db.session.commit()
    station = {
        "code": "c-station",
        "name": "礼让镇农技站",
        "kind": "township_station",
        "parent": "agriculture",
    }
    assert "梁平区农业农村委" in _refused(admin.post("/api/v1/organizations", json=station), "parent")
    assert db.session.scalar(sa.select(Organization.id).where(Organization.code == "c-station")) is None


def test_an_organization_with_units_under_it_gets_no_parent(api_as: Any) -> None:
    admin = api_as("admin")
    bureau = {"code": "park-bureau", "name": "湿地公园管理局", "kind": "forestry_bureau"}
    assert admin.post("/api/v1/organizations", json=bureau).status_code == 201
    unit = {"code": "park-station", "name": "湿地管护站", "kind": "other", "parent": "park-bureau"}
    assert admin.post("/api/v1/organizations", json=unit).status_code == 201
    # A bureau with units under it stays a bureau, and cannot become a unit of another.
    _refused(admin.patch("/api/v1/organizations/park-bureau", json={"kind": "other"}), "kind")
    answer = _refused(
        admin.patch("/api/v1/organizations/park-bureau", json={"kind": "other", "parent": "forestry"}),
        "parent",
    )
    assert "1" in answer
    assert _org("park-bureau").parent_id is None and _org("park-bureau").kind == "forestry_bureau"


def test_a_unit_becomes_a_bureau_only_when_it_reports_to_none(api_as: Any) -> None:
    admin = api_as("admin")
    station = {"code": "d-station", "name": "合兴镇林业站", "kind": "township_station", "parent": "forestry"}
    assert admin.post("/api/v1/organizations", json=station).status_code == 201
    _refused(admin.patch("/api/v1/organizations/d-station", json={"kind": "forestry_bureau"}), "kind")
    both = admin.patch("/api/v1/organizations/d-station", json={"kind": "forestry_bureau", "parent": None})
    assert both.status_code == 200, both.get_json()
    assert both.get_json()["parent"] is None and both.get_json()["kind"] == "forestry_bureau"


@pytest.mark.parametrize("role", ["bureau_admin", "supervisor", "surveyor"])
def test_only_admins_manage_organizations(api_as: Any, role: str) -> None:
    api = api_as(role)
    body = {"code": "x-station", "name": "站", "kind": "township_station", "parent": "forestry"}
    assert api.post("/api/v1/organizations", json=body).status_code == 403
    assert api.patch("/api/v1/organizations/forestry", json={"name": "改名"}).status_code == 403
    # Nor which bureau a unit reports to: only an admin moves a unit (docs/census.md, "Moving a unit").
    assert api.patch("/api/v1/organizations/agriculture", json={"parent": "forestry"}).status_code == 403
    assert _org("agriculture").parent_id is None
    assert db.session.scalar(sa.select(Organization.id).where(Organization.code == "x-station")) is None


def test_bad_bodies_name_their_field(api_as: Any) -> None:
    admin = api_as("admin")
    _refused(
        admin.post("/api/v1/organizations", json={"code": "Bad Code", "name": "x", "kind": "other"}), "code"
    )
    _refused(admin.post("/api/v1/organizations", json={"code": "ok", "name": "x", "kind": "bureau"}), "kind")
    taken = admin.post("/api/v1/organizations", json={"code": "forestry", "name": "x", "kind": "other"})
    assert taken.status_code == 409
    assert admin.patch("/api/v1/organizations/nowhere", json={"name": "x"}).status_code == 404
