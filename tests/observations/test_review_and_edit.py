"""Editing by the surveyor while the record is theirs; review by a verifier of the owning organization."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db


def _review(api: Any, observation_id: int, decision: str, comment: str | None = None) -> Any:
    body: dict[str, Any] = {"decision": decision}
    if comment is not None:
        body["comment"] = comment
    return api.post(f"/api/v1/observations/{observation_id}/review", json=body)


def test_surveyor_edits_own_submitted_record(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    response = api.patch(
        f"/api/v1/observations/{record['id']}", json={"density_per_m2": 25, "notes": "晚上复核"}
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["density_per_m2"] == 25
    assert data["notes"] == "晚上复核"
    assert data["severity"] == 5  # derived again from the new density
    changes = db.session.scalars(
        sa.select(AuditLog.changes).where(
            AuditLog.entity_type == "observations",
            AuditLog.entity_id == str(record["id"]),
            AuditLog.action == "update",
        )
    ).all()
    assert any(c.get("density_per_m2") == [12.0, 25] for c in changes)


def test_edit_is_checked_as_a_whole(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    response = api.patch(f"/api/v1/observations/{record['id']}", json={"detected": False})
    assert response.status_code == 422  # still carries density, egg masses and area
    assert "density_per_m2" in response.get_json()["errors"]
    only_lat = api.patch(f"/api/v1/observations/{record['id']}", json={"latitude": 30.7})
    assert "longitude" in only_lat.get_json()["errors"]
    empty = api.patch(f"/api/v1/observations/{record['id']}", json={})
    assert empty.status_code == 422


def test_others_cannot_edit(api_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"))
    colleague = api_as("surveyor")
    response = colleague.patch(f"/api/v1/observations/{record['id']}", json={"notes": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize("decision", ["verified", "rejected", "returned"])
def test_verifier_of_the_organization_reviews(api_as: Any, make_observation: Any, decision: str) -> None:
    record = make_observation(api_as("surveyor"))
    verifier = api_as("verifier")
    response = _review(verifier, record["id"], decision, "照片看不清卵块")
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == decision
    assert data["reviewed_by_id"] == verifier.user.id
    assert data["review_comment"] == "照片看不清卵块"
    again = _review(verifier, record["id"], "verified")
    assert again.status_code == 409


def test_returned_record_is_seen_edited_and_resubmitted(api_as: Any, make_observation: Any) -> None:
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    _review(api_as("verifier"), record["id"], "returned", "请补充卵块密度")
    seen = surveyor.get(f"/api/v1/observations/{record['id']}").get_json()
    assert seen["status"] == "returned"
    assert seen["review_comment"] == "请补充卵块密度"
    edited = surveyor.patch(f"/api/v1/observations/{record['id']}", json={"egg_masses_per_m2": 4.5})
    assert edited.get_json()["status"] == "submitted"


def test_verified_record_can_no_longer_be_edited(api_as: Any, make_observation: Any) -> None:
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    _review(api_as("verifier"), record["id"], "verified")
    response = surveyor.patch(f"/api/v1/observations/{record['id']}", json={"notes": "late"})
    assert response.status_code == 409


def test_an_edit_retried_after_the_record_was_reviewed_is_answered_with_the_record(
    api_as: Any, make_observation: Any
) -> None:
    """The edit reached the server, its answer was lost, and the verifier reviewed the record before the
    phone sent it again: the edit is in the record, so the retry is answered with it (the phone would
    otherwise show an edit as refused that was made). Another edit is still refused, and the retry
    writes nothing."""
    surveyor = api_as("surveyor")
    verifier = api_as("verifier")
    record = make_observation(surveyor, observed_at="2026-06-01T08:00:00+08:00")
    _review(verifier, record["id"], "returned", "请补充卵块密度和时间")
    edit = {"egg_masses_per_m2": 4.5, "observed_at": "2026-06-01T09:30:00+08:00", "notes": "补充"}
    first = surveyor.patch(f"/api/v1/observations/{record['id']}", json=edit)
    assert first.status_code == 200, first.get_json()
    assert _review(verifier, record["id"], "verified").status_code == 200
    audit_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))

    again = surveyor.patch(f"/api/v1/observations/{record['id']}", json=edit)

    assert again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "verified"
    assert again.get_json()["egg_masses_per_m2"] == 4.5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == audit_rows
    other = surveyor.patch(f"/api/v1/observations/{record['id']}", json={**edit, "notes": "再改"})
    assert other.status_code == 409
    stranger = api_as("surveyor").patch(f"/api/v1/observations/{record['id']}", json=edit)
    assert stranger.status_code == 403


def test_rejecting_or_returning_needs_a_comment(api_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"))
    verifier = api_as("verifier")
    for decision in ("rejected", "returned"):
        response = _review(verifier, record["id"], decision, "  ")
        assert response.status_code == 422
        assert "comment" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("role", "organization", "status"),
    [
        ("surveyor", "forestry", 403),
        ("supervisor", "forestry", 403),
        ("verifier", "agriculture", 403),
        ("admin", "agriculture", 200),
    ],
)
def test_who_may_review(
    api_as: Any, make_observation: Any, role: str, organization: str, status: int
) -> None:
    record = make_observation(api_as("surveyor", "forestry"))
    assert _review(api_as(role, organization), record["id"], "verified").status_code == status


def test_verifier_cannot_verify_own_record(api_as: Any, make_observation: Any) -> None:
    verifier = api_as("verifier")
    record = make_observation(verifier)
    assert _review(verifier, record["id"], "verified").status_code == 403


def test_bad_decision_is_named(api_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"))
    response = _review(api_as("verifier"), record["id"], "submitted")
    assert response.status_code == 422
    assert "decision" in response.get_json()["errors"]


def test_unknown_observation_is_404(api_as: Any) -> None:
    api = api_as("verifier")
    assert api.get("/api/v1/observations/987654").status_code == 404
    assert _review(api, 987654, "verified").status_code == 404
