"""A bureau acts for the units under it (docs/contract.md §1): reviewing their records, managing their
re-inspections and users, exporting their census, and their staff's species picker. A unit's staff act
for their own unit only. The matrix (test_matrix.py, relations "unit" and "station") checks every rule's
yes and no; these tests follow each case through to what is stored and shown."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind, User
from app.control.models import FollowUp
from app.exports.models import Export
from app.extensions import db
from app.notifications.models import Notification
from app.observations.models import Observation
from app.species.models import Species


def _org(code: str) -> Organization:
    found = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    assert found is not None, code
    return found


@pytest.fixture
def units(db_session: Any) -> None:
    """梁山 station and 明达 farm under forestry; 礼让 station under agriculture."""
    for code, name, parent in (
        ("lp-station", "梁山街道林业站", "forestry"),
        ("lp-farm", "明达林场", "forestry"),
        ("ag-station", "礼让镇农技站", "agriculture"),
    ):
        db.session.add(
            Organization(code=code, name=name, kind=OrganizationKind.TOWNSHIP_STATION, parent=_org(parent))
        )
    db.session.commit()


# ---------------------------------------------------------------------------------------------
# 1. Review


@pytest.mark.usefixtures("units")
def test_a_units_record_is_reviewed_by_its_bureaus_verifier(
    api_as: Any, web_as: Any, make_observation: Any
) -> None:
    record = make_observation(api_as("surveyor", "lp-station"))
    bureau_verifier = web_as("verifier", "forestry")
    queue = bureau_verifier.get("/review").get_data(as_text=True)
    assert f'action="/observations/{record["id"]}/review"' in queue  # listed, with its form
    assert "梁山街道林业站" in queue  # the unit that made it is named
    for outsider in ("agriculture", "ag-station", "lp-farm"):
        page = web_as("verifier", outsider).get("/review").get_data(as_text=True)
        assert f"/observations/{record['id']}" not in page, outsider

    refused = api_as("verifier", "agriculture").post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": "verified"}
    )
    assert refused.status_code == 403
    assert db.session.get(Observation, record["id"]).status.value == "submitted"

    reviewer = api_as("verifier", "forestry")
    answer = reviewer.post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": "returned", "comment": "补拍卵块"}
    )
    assert answer.status_code == 200, answer.get_json()
    stored = db.session.get(Observation, record["id"])
    assert stored.status.value == "returned" and stored.reviewed_by_id == reviewer.user.id
    assert stored.organization_id == _org("lp-station").id  # still the station's record


@pytest.mark.usefixtures("units")
def test_a_units_verifier_does_not_review_the_bureaus_records_and_nobody_their_own(
    api_as: Any, web_as: Any, make_observation: Any
) -> None:
    bureau_record = make_observation(api_as("surveyor", "forestry"))
    station_verifier = api_as("verifier", "lp-station")
    assert f"/observations/{bureau_record['id']}" not in (
        web_as(station_verifier.user).get("/review").get_data(as_text=True)
    )
    refused = station_verifier.post(
        f"/api/v1/observations/{bureau_record['id']}/review", json={"decision": "verified"}
    )
    assert refused.status_code == 403

    bureau_verifier = api_as("verifier", "forestry")
    own = make_observation(bureau_verifier)
    answer = bureau_verifier.post(f"/api/v1/observations/{own['id']}/review", json={"decision": "verified"})
    assert answer.status_code == 403
    assert db.session.get(Observation, own["id"]).status.value == "submitted"


# ---------------------------------------------------------------------------------------------
# 3. Follow-ups


@pytest.mark.usefixtures("units")
def test_a_bureau_supervisor_reassigns_a_units_follow_up_to_the_units_surveyor(
    api_as: Any, web_as: Any, make_user: Any, treat: Any
) -> None:
    operation, _baseline = treat(api_as("surveyor", "lp-station"))
    follow_up_id = operation["follow_ups"][0]["id"]
    colleague = make_user("surveyor", "lp-station", display_name="梁山技术员")
    outsider = make_user("surveyor", "ag-station", display_name="礼让技术员")
    sibling = make_user("surveyor", "lp-farm", display_name="林场职工")
    bureau_surveyor = make_user("surveyor", "forestry", display_name="局里调查员")
    db.session.commit()
    supervisor = web_as("supervisor", "forestry")
    # The supervisor's list of the organization's re-inspections includes the station's.
    listed = supervisor.get("/follow-ups?scope=all").get_data(as_text=True)
    assert f"/follow-ups/{follow_up_id}" in listed
    page = supervisor.get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert f'<option value="{colleague.id}">梁山技术员</option>' in page
    for stranger in (outsider, sibling, bureau_surveyor):
        assert stranger.display_name not in page

    api = api_as(supervisor.user)
    for stranger in (outsider, sibling, bureau_surveyor):
        refused = api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"assignee_id": stranger.id})
        assert refused.status_code == 422 and "assignee_id" in refused.get_json()["errors"]
    answer = api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"assignee_id": colleague.id})
    assert answer.status_code == 200, answer.get_json()
    assert db.session.get(FollowUp, follow_up_id).assignee_id == colleague.id
    told = db.session.scalars(sa.select(Notification).where(Notification.user_id == colleague.id)).all()
    assert len(told) == 1

    # The station's own supervisor may not touch the bureau's re-inspections.
    bureau_operation, _ = treat(api_as("surveyor", "forestry"))
    refused = api_as("supervisor", "lp-station").patch(
        f"/api/v1/follow-ups/{bureau_operation['follow_ups'][0]['id']}", json={"note": "改期"}
    )
    assert refused.status_code == 403


@pytest.mark.usefixtures("units")
def test_a_bureau_follow_up_assigned_to_a_units_surveyor_is_theirs_to_complete(
    api_as: Any, web_as: Any, make_user: Any, treat: Any, observation_payload: Any
) -> None:
    operation, _baseline = treat(api_as("surveyor", "forestry"))
    follow_up_id = operation["follow_ups"][0]["id"]
    technician = make_user("surveyor", "lp-station", display_name="梁山技术员")
    other_technician = make_user("surveyor", "lp-station")
    db.session.commit()
    # The bureau's choices name the unit of a unit's staff.
    page = web_as("supervisor", "forestry").get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert f'<option value="{technician.id}">梁山技术员 · 梁山街道林业站</option>' in page
    answer = api_as("supervisor", "forestry").patch(
        f"/api/v1/follow-ups/{follow_up_id}", json={"assignee_id": technician.id}
    )
    assert answer.status_code == 200, answer.get_json()
    body = {"observation": observation_payload(density_per_m2=2.0, egg_masses_per_m2=0.5)}
    refused = api_as(other_technician).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=body)
    assert refused.status_code == 403  # the station acts for itself, not for its bureau
    done = api_as(technician).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=body)
    assert done.status_code == 200, done.get_json()
    stored = db.session.get(FollowUp, follow_up_id)
    assert stored.status.value == "done" and stored.completed_by_id == technician.id


@pytest.mark.usefixtures("units")
def test_a_units_follow_ups_fall_to_its_bureaus_supervisor_when_it_has_none(
    api_as: Any, web_as: Any, make_user: Any, treat: Any
) -> None:
    bureau_supervisor = make_user("supervisor", "forestry")
    db.session.commit()
    operation, baseline = treat(api_as("surveyor", "lp-station"))
    assert {db.session.get(FollowUp, f["id"]).supervisor_id for f in operation["follow_ups"]} == {
        bureau_supervisor.id
    }
    station_supervisor = make_user("supervisor", "lp-station")
    db.session.commit()
    # Another day's treatment (one of the same day would join the pending re-inspections).
    later, _ = treat(api_as("surveyor", "lp-station"), days_ago=50)
    assert db.session.get(FollowUp, later["follow_ups"][0]["id"]).supervisor_id == station_supervisor.id
    # The bureau's staff are offered the unit's site to treat; another bureau's are not.
    site_id = baseline["site_id"]
    treat_link = f'href="/control-operations/new?site_id={site_id}"'
    assert treat_link in web_as("surveyor", "forestry").get(f"/sites/{site_id}").get_data(as_text=True)
    assert treat_link not in web_as("surveyor", "agriculture").get(f"/sites/{site_id}").get_data(as_text=True)
    site_option = f'<option value="{site_id}" data-species-id='
    choices = web_as("surveyor", "forestry").get("/control-operations/new").get_data(as_text=True)
    assert site_option in choices
    choices = web_as("surveyor", "agriculture").get("/control-operations/new").get_data(as_text=True)
    assert site_option not in choices


# ---------------------------------------------------------------------------------------------
# 4. Users and exports


@pytest.mark.usefixtures("units")
def test_a_bureau_admin_creates_and_edits_users_of_its_units_only(api_as: Any, web_as: Any) -> None:
    admin = api_as("bureau_admin", "forestry")
    body = {"password": "a-long-enough-password", "display_name": "新同事", "role": "surveyor"}
    created = admin.post("/api/v1/users", json={**body, "username": "lp-tech", "organization": "lp-station"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["organization"] == "lp-station"
    refused = admin.post("/api/v1/users", json={**body, "username": "ag-tech", "organization": "ag-station"})
    assert refused.status_code == 403
    assert db.session.scalar(sa.select(User.id).where(User.username == "ag-tech")) is None
    user_id = created.get_json()["id"]
    edited = admin.patch(f"/api/v1/users/{user_id}", json={"display_name": "梁山技术员"})
    assert edited.status_code == 200 and edited.get_json()["display_name"] == "梁山技术员"
    listed = {u["username"] for u in admin.get("/api/v1/users?per_page=500").get_json()["items"]}
    assert "lp-tech" in listed and admin.user.username in listed

    # The station's admin manages the station only: not the bureau's users, not moving one up.
    station_admin = api_as("bureau_admin", "lp-station")
    assert station_admin.get(f"/api/v1/users/{admin.user.id}").status_code == 403
    moved = station_admin.patch(f"/api/v1/users/{user_id}", json={"organization": "forestry"})
    assert moved.status_code == 403
    assert {u["username"] for u in station_admin.get("/api/v1/users").get_json()["items"]} == {
        "lp-tech",
        station_admin.user.username,
    }

    # The page offers the bureau and its units, not another bureau's units.
    web = web_as(admin.user)
    form = web.get("/admin/users/new").get_data(as_text=True)
    assert 'value="lp-station"' in form and 'value="lp-farm"' in form
    assert 'value="ag-station"' not in form and 'value="agriculture"' not in form
    posted = web.post(
        "/admin/users/new",
        data={**body, "username": "farm-tech", "organization": "lp-farm"},
    )
    assert posted.status_code == 302, posted.get_data(as_text=True)[:500]
    farm_tech = db.session.scalar(sa.select(User).where(User.username == "farm-tech"))
    assert farm_tech is not None and farm_tech.organization.code == "lp-farm"
    refused_page = web.post(
        "/admin/users/new", data={**body, "username": "ag-tech2", "organization": "ag-station"}
    )
    assert refused_page.status_code == 422
    assert db.session.scalar(sa.select(User.id).where(User.username == "ag-tech2")) is None


@pytest.mark.usefixtures("units")
def test_the_exports_page_offers_a_bureau_admin_its_units(web_as: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    page = web.get("/exports").get_data(as_text=True)
    assert 'value="lp-station"' in page and 'value="lp-farm"' in page
    assert 'value="ag-station"' not in page and 'value="district"' not in page
    posted = web.post(
        "/exports",
        data={"kind": "census", "bureau": "lp-station", "date_from": "2026-01-01", "date_to": "2026-03-31"},
    )
    assert posted.status_code == 302
    export = db.session.scalar(sa.select(Export).order_by(Export.id.desc()).limit(1))
    assert export is not None and export.organization_id == _org("lp-station").id
    refused = web.post(
        "/exports",
        data={"kind": "census", "bureau": "ag-station", "date_from": "2026-01-01", "date_to": "2026-03-31"},
    )
    assert refused.status_code == 422
    # A unit's admin exports the unit's census only: its form has no choice to make.
    station_page = web_as("bureau_admin", "lp-station").get("/exports").get_data(as_text=True)
    assert 'type="hidden" name="bureau" value="lp-station"' in station_page


# ---------------------------------------------------------------------------------------------
# 5. The species picker


@pytest.mark.usefixtures("units")
def test_a_units_staff_get_their_bureaus_district_list_first(api_as: Any, web_as: Any) -> None:
    forestry_admin = api_as("bureau_admin", "forestry")
    created = forestry_admin.post(
        "/api/v1/species-lists", json={"code": "lp-forestry", "name": "林业普查清单"}
    )
    assert created.status_code == 201, created.get_json()
    webworm = db.session.scalar(sa.select(Species.id).where(Species.key == "hyphantria-cunea"))
    added = forestry_admin.post("/api/v1/species-lists/lp-forestry/members", json={"species_id": webworm})
    assert added.status_code == 201, added.get_json()

    def first(organization: str) -> list[str]:
        data = web_as("surveyor", organization).get("/app/field-data.json").get_json()
        return [s["name_zh"] for s in data["species"] if s["district_first"]]

    assert first("forestry") == ["美国白蛾"]
    assert first("lp-station") == ["美国白蛾"]
    assert first("ag-station") == []
    assert first("agriculture") == []
