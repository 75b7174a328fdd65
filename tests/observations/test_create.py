"""Recording observations: presence and absence, idempotent retries, what is stored and returned."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.geo.crs import from_wgs84
from app.observations.models import Observation, PositionSource
from tests.conftest import PADDY


def test_presence_record_is_created_with_site_and_local_times(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload(observed_at="2026-05-04T09:30:00")  # no offset: Asia/Shanghai
    response = api.post("/api/v1/observations", json=body)
    assert response.status_code == 201
    data = response.get_json()
    assert data["status"] == "submitted"
    assert data["flags"] == []
    assert data["site_id"] is not None
    assert data["site_code"].startswith("500155001-")
    assert data["observed_at"] == "2026-05-04T09:30:00+08:00"
    assert data["township_code"] == "500155001"
    assert data["habitat"] == "paddy"
    assert data["habitat_class"] == "cropland"
    assert data["area_mu"] == round(1333.4 / (2000 / 3), 4)
    assert data["surveyor_id"] == api.user.id
    assert data["organization"] == "forestry"
    # density 12 per m² against the provisional mollusc thresholds [1, 5, 10, 20] → level 4
    assert data["severity"] == 4

    stored = db.session.get(Observation, data["id"])
    assert stored is not None
    assert stored.observed_at.isoformat() == "2026-05-04T01:30:00+00:00"  # stored as UTC


def test_absence_record_has_no_site_of_its_own(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload(detected=False, density_per_m2=None, egg_masses_per_m2=None, area_m2=None)
    response = api.post("/api/v1/observations", json=body)
    assert response.status_code == 201
    data = response.get_json()
    assert data["detected"] is False
    assert data["site_id"] is None
    assert data["severity"] is None


def test_retry_returns_the_same_record_and_creates_nothing(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload()
    first = api.post("/api/v1/observations", json=body)
    again = api.post("/api/v1/observations", json=body)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    count = db.session.scalar(
        sa.select(sa.func.count()).where(Observation.client_uuid == uuid.UUID(body["client_uuid"]))
    )
    assert count == 1


def test_retry_with_explicit_defaults_is_still_the_same_record(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload()
    first = api.post("/api/v1/observations", json=body)
    again = api.post("/api/v1/observations", json={**body, "detected": True, "crs": "wgs84"})
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]


def test_same_client_uuid_with_different_content_is_a_conflict(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload()
    first = api.post("/api/v1/observations", json=body)
    clash = api.post("/api/v1/observations", json={**body, "density_per_m2": 30.0})
    assert clash.status_code == 409
    error = clash.get_json()
    assert "client_uuid" in error["errors"]
    assert str(first.get_json()["id"]) in error["message"]


def test_client_uuid_is_unique_per_organization_not_globally(api_as: Any, observation_payload: Any) -> None:
    body = observation_payload()
    forestry = api_as("surveyor", "forestry").post("/api/v1/observations", json=body)
    agriculture = api_as("surveyor", "agriculture").post("/api/v1/observations", json=body)
    assert forestry.status_code == agriculture.status_code == 201
    assert forestry.get_json()["id"] != agriculture.get_json()["id"]


def test_gcj02_and_bd09_points_are_stored_as_wgs84(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    lat, lon = PADDY
    for crs in ("gcj02", "bd09"):
        shifted_lon, shifted_lat = from_wgs84(lon, lat, crs)
        body = observation_payload(latitude=shifted_lat, longitude=shifted_lon, crs=crs)
        data = api.post("/api/v1/observations", json=body).get_json()
        assert abs(data["latitude"] - lat) < 1e-6
        assert abs(data["longitude"] - lon) < 1e-6


def test_creation_is_audited(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    data = make_observation(api)
    entry = db.session.scalar(
        sa.select(AuditLog).where(
            AuditLog.entity_type == "observations", AuditLog.entity_id == str(data["id"])
        )
    )
    assert entry is not None
    assert entry.action == "create"
    assert entry.actor_id == api.user.id


def test_anonymous_callers_cannot_create_or_read(anonymous_api: Any, observation_payload: Any) -> None:
    assert anonymous_api.post("/api/v1/observations", json=observation_payload()).status_code == 401
    assert anonymous_api.get("/api/v1/observations").status_code == 401


def test_typed_coordinates_are_their_own_position_source(
    api_as: Any, observation_payload: Any, web_as: Any
) -> None:
    """Coordinates typed in when GPS is denied are recorded as `typed`, not as a map pick, and the
    record page names them in the reader's language; an unknown source is refused by name."""
    api = api_as("surveyor")
    body = observation_payload(position_source="typed", accuracy_m=None)
    response = api.post("/api/v1/observations", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["position_source"] == "typed"
    assert api.get(f"/api/v1/observations/{data['id']}").get_json()["position_source"] == "typed"
    stored = db.session.get(Observation, data["id"])
    assert stored is not None and stored.position_source == PositionSource.TYPED

    refused = api.post("/api/v1/observations", json=observation_payload(position_source="manual"))
    assert refused.status_code == 422
    assert "position_source" in refused.get_json()["errors"]

    web = web_as(api.user)
    zh = web.get(f"/observations/{data['id']}").get_data(as_text=True)
    assert "手工输入坐标" in zh and "地图选点" not in zh
    web.post("/language", {"lang": "en"})
    assert "typed coordinates" in web.get(f"/observations/{data['id']}").get_data(as_text=True)


def test_a_create_writes_its_record_flags_site_dates_and_audit_rows_together(
    api_as: Any, observation_payload: Any
) -> None:
    """A record joining a site moves the site's last date and is flagged a likely duplicate: the record,
    its flag, the site's new date and both audit rows are written (on PostgreSQL in one statement), in
    the order a flush writes them, with the record's audit row naming every stored value and its id."""
    api = api_as("surveyor")
    first = api.post("/api/v1/observations", json=observation_payload(observed_at="2026-05-04T09:30:00"))
    later = observation_payload(observed_at="2026-05-04T10:00:00")
    response = api.post("/api/v1/observations", json=later)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["site_id"] == first.get_json()["site_id"]
    assert data["flags"] == ["possible_duplicate"]
    db.session.expire_all()
    stored = db.session.get(Observation, data["id"])
    assert stored is not None and [f.flag for f in stored.flag_rows] == ["possible_duplicate"]
    assert stored.site is not None and stored.site.last_observed_at == stored.observed_at

    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.id > _last_audit_id_before(data["id"])).order_by(AuditLog.id)
    ).all()
    assert [(e.action, e.entity_type, e.entity_id) for e in entries] == [
        ("update", "sites", str(stored.site_id)),
        ("create", "observations", str(data["id"])),
    ]
    site_entry, record_entry = entries
    assert site_entry.changes["last_observed_at"][1] == "2026-05-04T02:00:00+00:00"
    assert record_entry.actor_id == api.user.id
    expected = {
        column.key: [None, _plain(getattr(stored, column.key))]
        for column in Observation.__table__.c
        if getattr(stored, column.key) is not None and column.key not in Observation.__audit_ignore__
    }
    assert record_entry.changes == expected
    assert record_entry.changes["id"] == [None, data["id"]]


def _last_audit_id_before(observation_id: int) -> int:
    """The id of the audit row written just before the one that created `observation_id`'s site visit."""
    created = db.session.scalar(
        sa.select(AuditLog.id).where(
            AuditLog.entity_type == "observations", AuditLog.entity_id == str(observation_id)
        )
    )
    assert created is not None
    return int(
        db.session.scalar(
            sa.select(sa.func.max(AuditLog.id)).where(
                AuditLog.id < created, ~((AuditLog.entity_type == "sites") & (AuditLog.action == "update"))
            )
        )
        or 0
    )


def _plain(value: Any) -> Any:
    """A stored value as the audit row keeps it (JSON): times in ISO form, enums and UUIDs as text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
