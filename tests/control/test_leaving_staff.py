"""A re-inspection stays its organization's: completed for it whoever completes it, and handed back to
its supervisor when its assignee moves to another organization or is deactivated (docs/contract.md §1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization
from app.control.models import FollowUp, FollowUpStatus
from app.extensions import db
from app.observations.models import Observation
from tests.conftest import PADDY


def _completion() -> dict[str, Any]:
    return {
        "observation": {
            "client_uuid": str(uuid.uuid4()),
            "observed_at": datetime.now(UTC).isoformat(),
            "latitude": PADDY[0],
            "longitude": PADDY[1],
            "accuracy_m": 5,
            "township_code": "500155001",
            "density_per_m2": 1.0,
        }
    }


def _org_id(code: str) -> int:
    found = db.session.scalar(sa.select(Organization.id).where(Organization.code == code))
    assert found is not None
    return found


def test_a_re_inspection_completed_by_an_admin_of_another_bureau_is_the_follow_ups_organizations(
    api_as: Any, treat: Any
) -> None:
    """The record counts in the census of the bureau whose re-inspection it is, not the completer's."""
    operation, _baseline = treat(api_as("surveyor", "forestry"), "hand_collection", days_ago=10)
    admin = api_as("admin", "agriculture")
    done = admin.post(f"/api/v1/follow-ups/{operation['follow_ups'][0]['id']}/complete", json=_completion())
    assert done.status_code == 200, done.get_json()
    record = db.session.get(Observation, done.get_json()["observation_id"])
    assert record is not None and record.organization_id == _org_id("forestry")


def test_a_user_moved_to_another_bureau_hands_back_their_pending_re_inspections(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    surveyor = make_user("surveyor", "forestry")
    supervisor = make_user("supervisor", "forestry")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=10)
    ids = [f["id"] for f in operation["follow_ups"]]
    moved = api_as("admin", "forestry").patch(
        f"/api/v1/users/{surveyor.id}", json={"organization": "agriculture"}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["follow_ups_handed_back"] == len(ids)
    assert moved.get_json()["organization"] == "agriculture"
    for follow_up_id in ids:
        follow_up = db.session.get(FollowUp, follow_up_id)
        assert follow_up is not None
        assert follow_up.assignee_id is None
        assert follow_up.supervisor_id == supervisor.id  # the reminders reach the one who reassigns it
        assert follow_up.status is FollowUpStatus.PENDING

    # Signed in again at the new bureau, they no longer complete the old bureau's re-inspection.
    response = api_as(surveyor).post(f"/api/v1/follow-ups/{ids[0]}/complete", json=_completion())
    assert response.status_code == 403, response.get_json()


def test_a_moved_user_still_named_as_assignee_may_not_complete(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    """Whatever left the name there (a follow-up assigned before this rule), the assignee of a bureau
    they no longer work for does not complete its re-inspection."""
    surveyor = make_user("surveyor", "forestry")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    surveyor.organization_id = _org_id("agriculture")
    db.session.commit()
    follow_up = db.session.get(FollowUp, follow_up_id)
    assert follow_up is not None and follow_up.assignee_id == surveyor.id
    response = api_as(surveyor).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=_completion())
    assert response.status_code == 403, response.get_json()


def test_moving_within_the_bureau_keeps_the_bureaus_re_inspections(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    """A bureau's surveyor moved to a township station under it may still re-inspect for the bureau."""
    admin = api_as("admin", "forestry")
    station = {
        "code": "ls-station",
        "name": "梁山街道林业站",
        "kind": "township_station",
        "parent": "forestry",
    }
    assert admin.post("/api/v1/organizations", json=station).status_code == 201
    surveyor = make_user("surveyor", "forestry")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=10)
    moved = admin.patch(f"/api/v1/users/{surveyor.id}", json={"organization": "ls-station"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["follow_ups_handed_back"] == 0
    follow_up = db.session.get(FollowUp, operation["follow_ups"][0]["id"])
    assert follow_up is not None and follow_up.assignee_id == surveyor.id


def test_a_deactivated_users_pending_re_inspections_go_back_to_the_supervisor(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    surveyor = make_user("surveyor", "forestry")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=1)
    admin = api_as("bureau_admin", "forestry")
    answer = admin.patch(f"/api/v1/users/{surveyor.id}", json={"active": False})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["follow_ups_handed_back"] == len(operation["follow_ups"])
    for item in operation["follow_ups"]:
        follow_up = db.session.get(FollowUp, item["id"])
        assert follow_up is not None and follow_up.assignee_id is None
    # A change that takes nothing away hands nothing back.
    again = admin.patch(f"/api/v1/users/{surveyor.id}", json={"display_name": "老周"})
    assert again.get_json()["follow_ups_handed_back"] == 0


def test_the_user_page_says_how_many_re_inspections_were_handed_back(
    web_as: Any, make_user: Any, api_as: Any, treat: Any
) -> None:
    surveyor = make_user("surveyor", "forestry")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=1)
    admin = web_as("bureau_admin", "forestry")
    # "active" unticked: deactivated.
    response = admin.post(f"/admin/users/{surveyor.id}", data={"display_name": "老周", "role": "surveyor"})
    assert response.status_code == 302
    listing = admin.get(response.headers["Location"]).get_data(as_text=True)
    count = len(operation["follow_ups"])
    assert f"{count} 项待复查已交还主管重新指派" in listing, listing
