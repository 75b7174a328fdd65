"""Moving a unit between bureaus (docs/census.md, "Moving a unit"): a bureau's census is its organization
tree as it is now, so a unit that holds records keeps the bureau it reports to; one with none moves freely.
An earlier version could put one bureau under the other; `flask organizations check` reports that, and the
admin may detach it, records or not."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind
from app.census.handlers import records_held
from app.census.scope import unit_ids
from app.extensions import db

STATION = {"code": "ag-station", "name": "礼让镇农技站", "kind": "township_station", "parent": "agriculture"}


def _org(code: str) -> Organization:
    org = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    assert org is not None
    return org


def _census(api: Any, bureau: str) -> Any:
    answer = api.get(f"/api/v1/census/summary?bureau={bureau}&statuses=submitted,verified")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _refused(response: Any) -> str:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert list(body["errors"]) == ["parent"]
    return " ".join(body["errors"]["parent"])


def test_a_unit_with_no_records_moves_freely(api_as: Any) -> None:
    admin = api_as("admin")
    assert admin.post("/api/v1/organizations", json=STATION).status_code == 201
    api_as("surveyor", "ag-station")  # staff, but no records yet
    moved = admin.patch("/api/v1/organizations/ag-station", json={"parent": "forestry"})
    assert moved.status_code == 200, moved.get_json()
    assert _org("ag-station").id in unit_ids(_org("forestry").id)
    detached = admin.patch("/api/v1/organizations/ag-station", json={"parent": None})
    assert detached.status_code == 200 and detached.get_json()["parent"] is None
    back = admin.patch("/api/v1/organizations/ag-station", json={"parent": "agriculture"})
    assert back.status_code == 200 and back.get_json()["parent"] == "agriculture"


def test_a_unit_with_records_keeps_its_bureau_and_the_census_stays(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    admin = api_as("admin")
    assert admin.post("/api/v1/organizations", json=STATION).status_code == 201
    surveyor = api_as("surveyor", "ag-station")
    make_observation(surveyor)
    treat(surveyor, "hand_collection", days_ago=10)
    before = {bureau: _census(admin, bureau) for bureau in ("agriculture", "forestry")}
    held = records_held((_org("ag-station").id,))
    assert held >= 4  # two records, a site at least, an operation and its re-inspections

    for parent in ("forestry", None):
        message = _refused(admin.patch("/api/v1/organizations/ag-station", json={"parent": parent}))
        assert "礼让镇农技站" in message and f"{held} 条记录" in message
        assert "请在另一个局下新建一个单位" in message
    english = admin.patch(
        "/api/v1/organizations/ag-station", json={"parent": "forestry"}, headers={"Accept-Language": "en"}
    )
    assert f"holds {held} records" in " ".join(english.get_json()["errors"]["parent"])
    assert "Create a new unit under the other bureau" in " ".join(english.get_json()["errors"]["parent"])

    assert _org("ag-station").parent is not None and _org("ag-station").parent.code == "agriculture"  # type: ignore[union-attr]
    assert {bureau: _census(admin, bureau) for bureau in ("agriculture", "forestry")} == before
    # What it may still do: keep its bureau (the same parent again), change its name, and the
    # admin creates a new unit under the other bureau for its future work.
    same = admin.patch(
        "/api/v1/organizations/ag-station", json={"parent": "agriculture", "name": "礼让镇农服中心"}
    )
    assert same.status_code == 200, same.get_json()
    new_unit = {**STATION, "code": "ls-station", "name": "礼让镇林业站", "parent": "forestry"}
    assert admin.post("/api/v1/organizations", json=new_unit).status_code == 201


def test_a_nested_bureau_from_an_earlier_version_is_reported_and_may_be_detached(
    app: Any, api_as: Any, make_observation: Any
) -> None:
    admin = api_as("admin")
    make_observation(api_as("surveyor", "agriculture"))
    _org("agriculture").parent = _org("forestry")  # as an earlier version let an admin store it
    db.session.add(
        Organization(
            code="ag-station",
            name="礼让镇农技站",
            kind=OrganizationKind.TOWNSHIP_STATION,
            parent=_org("agriculture"),
        )
    )
    db.session.commit()
    nested = _census(admin, "forestry")

    runner = app.test_cli_runner()
    found = runner.invoke(args=["organizations", "check"])
    assert found.exit_code == 1
    assert "agriculture: a bureau that reports to forestry" in found.output
    assert "ag-station: reports to agriculture, which is not a bureau that reports to none" in found.output
    assert _org("agriculture").parent_id == _org("forestry").id  # reported, never rewritten

    detached = admin.patch("/api/v1/organizations/agriculture", json={"parent": None})
    assert detached.status_code == 200, detached.get_json()
    assert _census(admin, "forestry") != nested  # the agriculture record leaves the forestry census
    clean = runner.invoke(args=["organizations", "check"])
    assert clean.exit_code == 0, clean.output
