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


def test_a_parent_that_makes_a_cycle_is_refused_naming_parent(api_as: Any) -> None:
    admin = api_as("admin")
    _refused(admin.patch("/api/v1/organizations/forestry", json={"parent": "forestry"}), "parent")
    assert admin.patch("/api/v1/organizations/agriculture", json={"parent": "forestry"}).status_code == 200
    _refused(admin.patch("/api/v1/organizations/forestry", json={"parent": "agriculture"}), "parent")
    assert _org("forestry").parent_id is None
    # A bureau with units under it stays a bureau.
    _refused(admin.patch("/api/v1/organizations/forestry", json={"kind": "other"}), "kind")


@pytest.mark.parametrize("role", ["bureau_admin", "supervisor", "surveyor"])
def test_only_admins_manage_organizations(api_as: Any, role: str) -> None:
    api = api_as(role)
    body = {"code": "x-station", "name": "站", "kind": "township_station", "parent": "forestry"}
    assert api.post("/api/v1/organizations", json=body).status_code == 403
    assert api.patch("/api/v1/organizations/forestry", json={"name": "改名"}).status_code == 403
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
