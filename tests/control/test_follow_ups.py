"""Follow-ups: listing, reassigning, rescheduling, cancelling, and completing with efficacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.control.efficacy import henderson_tilton_pct, reduction_pct
from tests.conftest import PADDY
from tests.control.fieldwork import visit

LAT, LON = PADDY


def _completion(**observation: Any) -> dict[str, Any]:
    return {"observation": visit(**observation)}


def test_efficacy_formulas_against_hand_worked_values() -> None:
    # 20 snails/m² before, 3 after: (20 - 3) / 20 = 85 %.
    assert reduction_pct(20, 3) == 85.0
    # Henderson–Tilton: CK 18 → 24, T 20 → 3: 1 − (18 × 3) / (24 × 20) = 1 − 54/480 = 88.75 %.
    assert henderson_tilton_pct(20, 3, 18, 24) == 88.75
    assert reduction_pct(0, 3) is None
    assert henderson_tilton_pct(20, 3, 18, 0) is None


def test_completing_with_a_lower_density_reports_efficacy(api_as: Any, make_user: Any, treat: Any) -> None:
    supervisor = api_as(make_user("supervisor"))
    surveyor = api_as("surveyor")
    operation, _ = treat(surveyor, method="chemical", days_ago=10)
    first = operation["follow_ups"][0]
    response = supervisor.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json=_completion(density_per_m2=3.0, egg_masses_per_m2=1.5),
    )
    assert response.status_code == 200, response.get_json()
    done = response.get_json()
    assert done["status"] == "done"
    assert done["overdue"] is False
    efficacy = done["efficacy"]
    assert efficacy["density_reduction_pct"] == 85.0  # (20 − 3) / 20
    assert efficacy["egg_mass_reduction_pct"] == 75.0  # (6 − 1.5) / 6
    assert efficacy["metrics"]["density"] == {"before": 20.0, "after": 3.0, "reduction_pct": 85.0}
    assert efficacy["corrected_efficacy_pct"] is None  # no check plot
    record = supervisor.get(f"/api/v1/observations/{done['observation_id']}").get_json()
    assert record["site_id"] == operation["site_id"]

    retry = supervisor.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json={"observation": {**_completion()["observation"], "client_uuid": record["client_uuid"]}},
    )
    assert retry.status_code == 200  # the same completion again
    other = supervisor.post(
        f"/api/v1/follow-ups/{first['id']}/complete", json=_completion(density_per_m2=1.0)
    )
    assert other.status_code == 409


def test_henderson_tilton_with_an_untreated_check_plot(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=LAT + 0.01, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=18.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    make_observation(
        api, latitude=LAT + 0.01, observed_at=(now - timedelta(hours=3)).isoformat(), density_per_m2=24.0
    )
    first = operation["follow_ups"][0]
    done = api.post(
        f"/api/v1/follow-ups/{first['id']}/complete", json=_completion(density_per_m2=3.0)
    ).get_json()
    assert done["efficacy"]["check"] == {"site_id": check["site_id"], "before": 18.0, "after": 24.0}
    assert done["efficacy"]["corrected_efficacy_pct"] == 88.75


def test_absence_at_the_re_inspection_is_full_reduction_and_clears_after_a_run(
    api_as: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    nothing = {"detected": False}
    results = [
        api.post(f"/api/v1/follow-ups/{f['id']}/complete", json=_completion(**nothing)).get_json()
        for f in operation["follow_ups"][:3]
    ]
    assert results[0]["efficacy"]["density_reduction_pct"] == 100.0
    site = api.get(f"/api/v1/sites/{operation['site_id']}").get_json()
    assert site["status"] == "cleared"  # three absences in a row after treatment
    found = api.post(
        f"/api/v1/follow-ups/{operation['follow_ups'][3]['id']}/complete",
        json=_completion(density_per_m2=2.0),
    )
    assert found.status_code == 200
    assert api.get(f"/api/v1/sites/{operation['site_id']}").get_json()["status"] == "reemerged"


def test_completion_of_another_organizations_follow_up_is_refused(api_as: Any, treat: Any) -> None:
    operation, _ = treat(api_as("surveyor", "forestry"))
    outsider = api_as("surveyor", "agriculture")
    response = outsider.post(
        f"/api/v1/follow-ups/{operation['follow_ups'][0]['id']}/complete", json=_completion()
    )
    assert response.status_code == 403


def test_list_filters(api_as: Any, make_user: Any, treat: Any) -> None:
    supervisor = make_user("supervisor")
    surveyor = make_user("surveyor")
    api = api_as(surveyor)
    operation, _ = treat(api, method="chemical", days_ago=10)
    overdue = api.get("/api/v1/follow-ups?overdue=true").get_json()
    assert [f["offset_days"] for f in overdue["items"]] == [1, 3, 7]
    mine = api.get(f"/api/v1/follow-ups?assignee_id={surveyor.id}&status=pending").get_json()
    assert mine["total"] == 6
    assert api.get(f"/api/v1/follow-ups?assignee_id={supervisor.id}").get_json()["total"] == 0
    soon = api.get(f"/api/v1/follow-ups?due_before={operation['follow_ups'][4]['due_on']}").get_json()
    assert soon["total"] == 4
    assert api.get("/api/v1/follow-ups?overdue=maybe").status_code == 422
    assert "due_before" in api.get("/api/v1/follow-ups?due_before=0001-01-01").get_json()["errors"]
    assert "to" in api.get("/api/v1/control-operations?to=9999-12-31").get_json()["errors"]


def test_supervisor_reassigns_reschedules_and_cancels(api_as: Any, make_user: Any, treat: Any) -> None:
    supervisor = api_as(make_user("supervisor"))
    colleague = make_user("surveyor")
    operation, _ = treat(api_as("surveyor"))
    follow_up = operation["follow_ups"][3]
    url = f"/api/v1/follow-ups/{follow_up['id']}"
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    changed = supervisor.patch(url, json={"assignee_id": colleague.id, "due_on": tomorrow}).get_json()
    assert changed["assignee_id"] == colleague.id
    assert changed["due_on"] == tomorrow
    assert supervisor.patch(url, json={"status": "cancelled"}).status_code == 422  # needs a reason
    cancelled = supervisor.patch(
        url, json={"status": "cancelled", "cancelled_reason": "田块已改种"}
    ).get_json()
    assert cancelled["status"] == "cancelled"
    assert supervisor.patch(url, json={"due_on": tomorrow}).status_code == 409


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"due_on": "2020-01-01"}, 422, "due_on"),
        ({"assignee_id": 999999}, 422, "assignee_id"),
        ({"status": "done"}, 422, "status"),
        ({}, 422, "_schema"),
    ],
)
def test_bad_changes_are_named(
    api_as: Any, make_user: Any, treat: Any, changes: dict[str, Any], status: int, field: str
) -> None:
    supervisor = api_as(make_user("supervisor"))
    operation, _ = treat(api_as("surveyor"))
    response = supervisor.patch(f"/api/v1/follow-ups/{operation['follow_ups'][0]['id']}", json=changes)
    assert response.status_code == status
    assert field in response.get_json()["errors"]


def test_surveyors_cannot_reassign_and_other_supervisors_cannot_either(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    surveyor = api_as("surveyor")
    operation, _ = treat(surveyor)
    url = f"/api/v1/follow-ups/{operation['follow_ups'][0]['id']}"
    assert surveyor.patch(url, json={"note": "x"}).status_code == 403
    assert api_as(make_user("supervisor", "agriculture")).patch(url, json={"note": "x"}).status_code == 403


def test_manual_follow_up_for_any_site(api_as: Any, make_user: Any, make_observation: Any) -> None:
    supervisor = api_as(make_user("supervisor"))
    record = make_observation(api_as("surveyor"))
    due = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    response = supervisor.post("/api/v1/follow-ups", json={"site_id": record["site_id"], "due_on": due})
    assert response.status_code == 201
    assert response.get_json()["kind"] == "manual"
    assert response.get_json()["control_operation_id"] is None
    assert (
        api_as("surveyor")
        .post("/api/v1/follow-ups", json={"site_id": record["site_id"], "due_on": due})
        .status_code
        == 403
    )
