"""Campaigns (issue 19 point 1): planning through the API, the 422s naming the field, the audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.audit.models import AuditLog
from app.clock import local_today
from app.extensions import db
from app.surveys.models import Campaign, SurveyUnit
from tests.surveys.conftest import LIANGSHAN_VILLAGE, LIRANG, LIRANG_VILLAGE, YUNLONG


def test_a_supervisor_plans_a_campaign(planner: Any, campaign_body: Any, field_team: Any) -> None:
    body = campaign_body()
    response = planner.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["name"] == body["name"] and data["kind"] == "census" and data["bureau"] == "forestry"
    assert sorted(data["species_ids"]) == sorted(body["species_ids"])
    codes = {u["unit_code"]: u for u in data["units"]}
    assert set(codes) == {YUNLONG, LIRANG_VILLAGE, "500155102201"}
    assert codes[YUNLONG]["level"] == "township" and codes[YUNLONG]["assignee_id"] == field_team.a.id
    assert codes[LIRANG_VILLAGE]["level"] == "village"
    assert codes[LIRANG_VILLAGE]["township_code"] == LIRANG
    stored = db.session.get(Campaign, data["id"])
    assert stored is not None and len(stored.units) == 3


def test_the_plan_is_audited(planner: Any, campaign_body: Any) -> None:
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    unit_id = created["units"][0]["id"]
    changed = planner.patch(f"/api/v1/campaigns/{created['id']}", json={"name": "改了名字"})
    assert changed.status_code == 200, changed.get_json()
    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_type.in_(["survey_campaigns", "survey_units"]))
    ).all()
    by = {(e.entity_type, e.action, e.entity_id) for e in entries}
    assert ("survey_campaigns", "create", str(created["id"])) in by
    assert ("survey_units", "create", str(unit_id)) in by
    update = [e for e in entries if e.entity_type == "survey_campaigns" and e.action == "update"]
    assert update and update[-1].changes["name"] == ["2026年福寿螺普查", "改了名字"]
    assert all(e.actor_id == planner.user.id for e in entries)


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == 422 and body["message"]
    return body["errors"]


def _nothing_written() -> None:
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SurveyUnit)) == 0


def _unit(**fields: Any) -> dict[str, Any]:
    return fields


def test_bad_units_are_named_by_index(
    planner: Any, campaign_body: Any, field_team: Any, make_user: Any
) -> None:
    starts_on, ends_on = (local_today() - timedelta(days=10)), (local_today() + timedelta(days=20))
    outsider = make_user("surveyor", "agriculture")
    retired = make_user("surveyor", "forestry", active=False)
    units = [
        _unit(township_code=YUNLONG, assignee_id=field_team.a.id),  # 0: fine
        _unit(township_code="500155999"),  # 1: no such township here
        _unit(township_code=LIRANG, village_code=LIANGSHAN_VILLAGE),  # 2: a village of 梁山街道, not 礼让镇
        _unit(township_code="500156101"),  # 3: another county's township
        _unit(township_code=YUNLONG),  # 4: 云龙镇 again
        _unit(township_code=LIRANG, assignee_id=outsider.id),  # 5: agriculture's surveyor
        _unit(township_code=LIRANG, village_code=LIRANG_VILLAGE, assignee_id=retired.id),  # 6: deactivated
        _unit(
            township_code="500155001", due_on=(ends_on + timedelta(days=1)).isoformat()
        ),  # 7: after the end
        _unit(township_code="500155002", due_on=(starts_on - timedelta(days=1)).isoformat()),  # 8: before
        _unit(village_code="500155102999"),  # 9: no such village
        _unit(township_code="500155003", assignee_id=2**31 - 1),  # 10: no such user
    ]
    errors = _errors(planner.post("/api/v1/campaigns", json=campaign_body(units=units)))
    assert set(errors) == {
        "units.1.township_code",
        "units.2.village_code",
        "units.3.township_code",
        "units.4.township_code",
        "units.5.assignee_id",
        "units.6.assignee_id",
        "units.7.due_on",
        "units.8.due_on",
        "units.9.village_code",
        "units.10.assignee_id",
    }, errors
    assert "1" in errors["units.4.township_code"][0]  # twice: names the first
    _nothing_written()


def test_bad_campaign_fields(planner: Any, campaign_body: Any) -> None:
    today = local_today()
    errors = _errors(
        planner.post(
            "/api/v1/campaigns",
            json=campaign_body(
                starts_on=today.isoformat(),
                ends_on=(today - timedelta(days=1)).isoformat(),
                species_ids=[2**31 - 1],
                units=[],
            ),
        )
    )
    assert set(errors) == {"ends_on", "species_ids.0"}
    for field, value in (("kind", "survey"), ("species_ids", []), ("name", ""), ("starts_on", "2026-02-30")):
        assert field in _errors(planner.post("/api/v1/campaigns", json=campaign_body(**{field: value})))
    assert "bureau" in _errors(planner.post("/api/v1/campaigns", json=campaign_body(bureau="nobody")))
    assert "units.0.township_code" in _errors(
        planner.post("/api/v1/campaigns", json=campaign_body(units=[{"assignee_id": 1}]))
    )
    _nothing_written()


def test_a_unit_is_not_a_bureau(api_as: Any, campaign_body: Any) -> None:
    from app.accounts.models import Organization, OrganizationKind

    forestry = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    db.session.add(
        Organization(code="lp-st", name="礼让林业站", kind=OrganizationKind.TOWNSHIP_STATION, parent=forestry)
    )
    db.session.commit()
    admin = api_as("admin", "forestry")
    assert "bureau" in _errors(admin.post("/api/v1/campaigns", json=campaign_body(bureau="lp-st")))


def test_a_station_surveyor_may_be_assigned(api_as: Any, make_user: Any, campaign_body: Any) -> None:
    from app.accounts.models import Organization, OrganizationKind

    forestry = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    db.session.add(
        Organization(code="lp-st", name="礼让林业站", kind=OrganizationKind.TOWNSHIP_STATION, parent=forestry)
    )
    db.session.flush()
    technician = make_user("surveyor", "lp-st")
    planner = api_as("bureau_admin", "forestry")
    response = planner.post(
        "/api/v1/campaigns",
        json=campaign_body(units=[{"township_code": LIRANG, "assignee_id": technician.id}]),
    )
    assert response.status_code == 201, response.get_json()
    # The station's supervisor acts for the station only: not for forestry's campaigns.
    station_supervisor = api_as("supervisor", "lp-st")
    refused = station_supervisor.patch(f"/api/v1/campaigns/{response.get_json()['id']}", json={"name": "x"})
    assert refused.status_code == 403


def test_other_bureaus_may_read_but_not_change(api_as: Any, planner: Any, campaign_body: Any) -> None:
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    other = api_as("supervisor", "agriculture")
    assert other.get(f"/api/v1/campaigns/{created['id']}").status_code == 200
    assert other.patch(f"/api/v1/campaigns/{created['id']}", json={"name": "x"}).status_code == 403
    assert api_as("surveyor", "forestry").post("/api/v1/campaigns", json=campaign_body()).status_code == 403
    listed = other.get("/api/v1/campaigns?bureau=forestry").get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == created["id"]
    assert set(listed) == {"items", "total", "page", "per_page"}
    assert other.get("/api/v1/campaigns?bureau=agriculture").get_json()["total"] == 0


def test_patch_replaces_units_keeping_ids(planner: Any, campaign_body: Any, field_team: Any) -> None:
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    ids = {u["unit_code"]: u["id"] for u in created["units"]}
    due = (local_today() + timedelta(days=3)).isoformat()
    response = planner.patch(
        f"/api/v1/campaigns/{created['id']}",
        json={
            "units": [
                {"township_code": YUNLONG, "assignee_id": field_team.b.id, "due_on": due},
                {"township_code": "500155001", "assignee_id": field_team.a.id},
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    units = {u["unit_code"]: u for u in response.get_json()["units"]}
    assert set(units) == {YUNLONG, "500155001"}
    assert units[YUNLONG]["id"] == ids[YUNLONG]
    assert units[YUNLONG]["assignee_id"] == field_team.b.id and units[YUNLONG]["due_on"] == due
    listed = planner.get(f"/api/v1/campaigns/{created['id']}/units").get_json()
    assert [u["unit_code"] for u in listed["items"]] == ["500155001", YUNLONG]
    assert (listed["total"], listed["page"], listed["per_page"]) == (2, 1, 50)
    second = planner.get(f"/api/v1/campaigns/{created['id']}/units?per_page=1&page=2").get_json()
    assert [u["unit_code"] for u in second["items"]] == [YUNLONG]


def test_a_new_window_must_hold_the_due_dates(planner: Any, campaign_body: Any) -> None:
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    earlier = (local_today() + timedelta(days=2)).isoformat()  # the units are due in 7 days
    errors = _errors(planner.patch(f"/api/v1/campaigns/{created['id']}", json={"ends_on": earlier}))
    assert set(errors) == {"ends_on"}
    stored = db.session.get(Campaign, created["id"])
    db.session.refresh(stored)
    assert stored.ends_on.isoformat() == created["ends_on"]


def test_reassigning_a_unit(planner: Any, campaign_body: Any, field_team: Any, make_user: Any) -> None:
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    unit = created["units"][0]
    path = f"/api/v1/campaigns/{created['id']}/units/{unit['id']}"
    moved = planner.patch(path, json={"assignee_id": field_team.b.id, "due_on": created["ends_on"]})
    assert moved.status_code == 200, moved.get_json()
    assert (
        moved.get_json()["assignee_id"] == field_team.b.id
        and moved.get_json()["due_on"] == created["ends_on"]
    )
    outsider = make_user("surveyor", "agriculture")
    late = (local_today() + timedelta(days=60)).isoformat()
    assert set(_errors(planner.patch(path, json={"assignee_id": outsider.id, "due_on": late}))) == {
        "assignee_id",
        "due_on",
    }
    assert planner.patch(f"/api/v1/campaigns/{created['id']}/units/{2**31 - 1}", json={}).status_code == 404
    cleared = planner.patch(path, json={"assignee_id": None})
    assert cleared.get_json()["assignee_id"] is None


def test_my_survey_units(
    planner: Any, api_as: Any, campaign_body: Any, field_team: Any, make_campaign: Any
) -> None:
    planner.post("/api/v1/campaigns", json=campaign_body())
    # An ended campaign's units are not "mine" any more.
    long_ago = local_today() - timedelta(days=100)
    make_campaign(
        starts_on=long_ago, ends_on=long_ago + timedelta(days=10), units=((YUNLONG, field_team.b, None),)
    )
    db.session.commit()
    mine = api_as(field_team.b).get("/api/v1/me/survey-units").get_json()
    assert mine["total"] == 2
    assert sorted(u["unit_code"] for u in mine["items"]) == [LIRANG_VILLAGE, "500155102201"]
    assert mine["items"][0]["campaign_name"] == "2026年福寿螺普查"
    assert api_as("surveyor", "forestry").get("/api/v1/me/survey-units").get_json()["items"] == []


def test_a_unit_with_routes_stays(planner: Any, campaign_body: Any, field_team: Any) -> None:
    from tests.surveys.coverage_fixtures import add_route

    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    campaign = db.session.get(Campaign, created["id"])
    walked = next(u for u in campaign.units if u.unit_code == YUNLONG)
    add_route(campaign, field_team.a, [(107.80, 30.68), (107.81, 30.69)], unit=walked)
    db.session.commit()
    without = [{"township_code": LIRANG, "village_code": LIRANG_VILLAGE}]
    errors = _errors(planner.patch(f"/api/v1/campaigns/{created['id']}", json={"units": without}))
    assert set(errors) == {"units"} and "云龙镇" in errors["units"][0]
    db.session.expire_all()
    assert len(db.session.get(Campaign, created["id"]).units) == 3


def test_who_takes_part(make_campaign: Any, make_user: Any, field_team: Any, app: Any) -> None:
    from app.errors import InvalidInput
    from app.surveys.campaign_queries import campaign_for, takes_part

    outsider = make_user("surveyor", "agriculture")
    helper = make_user("surveyor", "agriculture")
    campaign = make_campaign(units=((YUNLONG, helper, None),))
    assert takes_part(field_team.a, campaign)  # forestry staff
    assert takes_part(helper, campaign)  # assigned a unit, though of another bureau
    assert takes_part(make_user("admin", "agriculture"), campaign)
    assert not takes_part(outsider, campaign)
    with app.test_request_context():
        assert campaign_for(field_team.a, campaign.id) is campaign
        for who, wanted in ((outsider, campaign.id), (field_team.a, 2**31 - 1)):
            try:
                campaign_for(who, wanted, "campaign_id")
            except InvalidInput as exc:
                assert set(exc.errors) == {"campaign_id"}
            else:
                raise AssertionError("refused expected")


def test_unit_outlines_when_boundaries_are_loaded(make_campaign: Any, field_team: Any) -> None:
    import uuid

    from app.district.models import Boundary, BoundaryLevel, BoundaryLoad
    from app.surveys.campaign_queries import unit_outlines

    campaign = make_campaign(units=((LIRANG_VILLAGE, field_team.a, None), (YUNLONG, field_team.a, None)))
    assert unit_outlines(campaign.units) == {"type": "FeatureCollection", "features": []}
    load = BoundaryLoad(
        level=BoundaryLevel.VILLAGE,
        version=uuid.uuid4().hex,
        filename="t.geojson",
        sha256="0" * 64,
        format="geojson",
        crs="EPSG:4326",
        code_field="code",
        units=1,
        features=1,
    )
    db.session.add(load)
    db.session.flush()
    # A made-up outline with a point every ~1 m along one side: simplified away on the small map.
    side = [[107.70 + i * 0.00001, 30.66] for i in range(2000)]
    ring = [*side, [107.72, 30.66], [107.72, 30.68], [107.70, 30.68], [107.70, 30.66]]
    db.session.add(
        Boundary(
            load_id=load.id,
            level=BoundaryLevel.VILLAGE,
            code=LIRANG_VILLAGE,
            name="老营村",
            geometry={"type": "Polygon", "coordinates": [ring]},
            area_m2=4.6e6,
            min_lon=107.70,
            min_lat=30.66,
            max_lon=107.72,
            max_lat=30.68,
        )
    )
    db.session.flush()
    [feature] = unit_outlines(campaign.units)["features"]
    assert feature["properties"]["code"] == LIRANG_VILLAGE and feature["properties"]["name"] == "老营村"
    assert len(feature["geometry"]["coordinates"][0]) <= 6


def test_what_get_answers_may_be_patched_back(planner: Any, campaign_body: Any) -> None:
    """A client PATCHes back what it read: the read-only fields equal to what is stored are ignored."""
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    path = f"/api/v1/campaigns/{created['id']}"
    read = planner.get(path).get_json()
    audited = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    response = planner.patch(path, json=read)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == read
    assert planner.get(path).get_json() == read
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == audited
    # What was read, with a change of a field a client sets: the change is made, the rest ignored.
    unit = read["units"][0]
    edited = {**read, "name": "改名", "units": [{**unit, "due_on": read["ends_on"]}, *read["units"][1:]]}
    response = planner.patch(path, json=edited)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "改名" and response.get_json()["units"][0]["id"] == unit["id"]
    assert response.get_json()["units"][0]["due_on"] == read["ends_on"]


def test_a_changed_read_only_field_is_refused(planner: Any, campaign_body: Any, field_team: Any) -> None:
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    path = f"/api/v1/campaigns/{created['id']}"
    read = planner.get(path).get_json()
    unit = read["units"][1]
    for body, field in (
        ({**read, "unit_count": 7}, "unit_count"),
        ({**read, "bureau_name": "农业农村委"}, "bureau_name"),
        ({"id": read["id"] + 1, "name": "x"}, "id"),
        ({"created_at": "2020-01-01T00:00:00+08:00"}, "created_at"),
        ({**read, "species": read["species"][:1]}, "species"),
        ({**read, "units": [{**unit, "township_name": "云龙镇"}]}, "units.0.township_name"),
        ({**read, "units": [{**unit, "unit_code": "500155102201"}]}, "units.0.unit_code"),
        ({**read, "units": [{**unit, "id": read["units"][0]["id"]}]}, "units.0.id"),
        # The assignee is changed by assignee_id; its name alone changes nothing, so it is refused.
        (
            {**read, "units": [{**unit, "assignee": {"id": field_team.a.id, "display_name": "x"}}]},
            "units.0.assignee",
        ),
    ):
        response = planner.patch(path, json=body)
        errors = _errors(response)
        assert set(errors) == {field}, (field, errors)
        leaf = field.rsplit(".", 1)[-1]
        assert leaf in errors[field][0] and "只读" in errors[field][0], errors
    assert planner.get(path).get_json() == read  # nothing was changed
    # A read-only field that follows the change made with it is accepted: a new assignee and its name.
    moved = {
        **unit,
        "assignee_id": field_team.a.id,
        "assignee": {"id": field_team.a.id, "display_name": field_team.a.display_name},
    }
    response = planner.patch(path, json={**read, "units": [read["units"][0], moved, read["units"][2]]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["units"][1]["assignee_id"] == field_team.a.id


def test_read_only_fields_are_documented(client: Any) -> None:
    from app.surveys.schemas.campaigns import (
        READ_ONLY,
        UNIT_READ_ONLY,
        CampaignDetailSchema,
        CampaignPatchArgs,
        SurveyUnitSchema,
    )

    # Every field GET answers is one a PATCH takes: a field added to the answer must be added here too.
    assert set(CampaignDetailSchema().fields) <= set(CampaignPatchArgs().fields)
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["paths"]["/api/v1/campaigns/{campaign_id}"]["patch"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = spec["components"]["schemas"][ref]["properties"]
    for name in READ_ONLY:
        assert properties[name].get("readOnly") is True, name
        assert "read-only" in properties[name]["description"]
    from app.surveys.schemas.campaigns import UnitUpdateArgs

    assert set(SurveyUnitSchema().fields) <= set(UnitUpdateArgs().fields)
    assert set(SurveyUnitSchema().fields) <= set(UNIT_READ_ONLY) | {
        "township_code",
        "village_code",
        "assignee_id",
        "due_on",
    }


def test_a_reassigned_unit_answers_its_new_assignee(
    planner: Any, campaign_body: Any, field_team: Any
) -> None:
    """PATCH /campaigns/{id} answers each unit's assignee as stored: the new one, not the one before."""
    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    path = f"/api/v1/campaigns/{created['id']}"
    units = [
        {"township_code": YUNLONG, "assignee_id": field_team.b.id},
        {"township_code": LIRANG, "village_code": LIRANG_VILLAGE, "assignee_id": field_team.a.id},
    ]
    response = planner.patch(path, json={"units": units})
    assert response.status_code == 200, response.get_json()
    answered = {u["unit_code"]: u for u in response.get_json()["units"]}
    assert answered[YUNLONG]["assignee"] == {"id": field_team.b.id, "display_name": field_team.b.display_name}
    assert answered[LIRANG_VILLAGE]["assignee"]["id"] == field_team.a.id
    assert response.get_json() == planner.get(path).get_json()


def test_a_unit_kept_as_it_was_is_not_judged_again(planner: Any, campaign_body: Any, field_team: Any) -> None:
    """An assignee deactivated since the plan was made stays on the units nobody touched: the plan is
    still changed (and read back and sent as it was) without reassigning them first; a unit newly given
    to them is refused as before."""
    from app.accounts.models import User

    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    path = f"/api/v1/campaigns/{created['id']}"
    db.session.get(User, field_team.b.id).active = False
    db.session.commit()
    read = planner.get(path).get_json()
    response = planner.patch(path, json={**read, "name": "改名"})
    assert response.status_code == 200, response.get_json()
    assert [u["assignee_id"] for u in response.get_json()["units"]] == [
        u["assignee_id"] for u in read["units"]
    ]
    units = [
        {
            "township_code": u["township_code"],
            "village_code": u["village_code"],
            "assignee_id": u["assignee_id"],
        }
        for u in read["units"]
    ]
    units[0]["assignee_id"] = field_team.b.id  # newly given to the deactivated surveyor
    errors = _errors(planner.patch(path, json={"units": units}))
    assert set(errors) == {"units.0.assignee_id"}


def test_a_unit_read_may_be_patched_back(planner: Any, campaign_body: Any, field_team: Any) -> None:
    """PATCH /campaigns/{id}/units/{unit_id} takes the unit as GET /campaigns/{id}/units answered it."""
    from app.accounts.models import User

    created = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()
    listed = planner.get(f"/api/v1/campaigns/{created['id']}/units").get_json()["items"]
    unit = next(u for u in listed if u["level"] == "village")
    path = f"/api/v1/campaigns/{created['id']}/units/{unit['id']}"
    unchanged = planner.patch(path, json=unit)
    assert unchanged.status_code == 200, unchanged.get_json()
    assert unchanged.get_json() == unit
    moved = planner.patch(path, json={**unit, "due_on": created["ends_on"]})
    assert moved.status_code == 200 and moved.get_json()["due_on"] == created["ends_on"]
    for field, value in (
        ("village_code", "500155102201"),
        ("township_name", "云龙镇"),
        ("id", unit["id"] + 1),
        ("assignee", {"id": field_team.a.id, "display_name": field_team.a.display_name}),
    ):
        errors = _errors(planner.patch(path, json={**unit, field: value}))
        assert set(errors) == {field} and field in errors[field][0], errors
    # Reassigned with its new assignee's name, as a client that follows its change sends it.
    new = {"id": field_team.a.id, "display_name": field_team.a.display_name}
    response = planner.patch(path, json={**unit, "assignee_id": field_team.a.id, "assignee": new})
    assert response.status_code == 200 and response.get_json()["assignee"] == new
    # Its assignee deactivated since: the unit is still sent back (a new due date) without reassigning.
    db.session.get(User, field_team.a.id).active = False
    db.session.commit()
    read = planner.get(f"/api/v1/campaigns/{created['id']}/units").get_json()["items"]
    again = next(u for u in read if u["id"] == unit["id"])
    response = planner.patch(path, json={**again, "due_on": None})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["due_on"] is None and response.get_json()["assignee_id"] == field_team.a.id
