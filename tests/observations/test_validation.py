"""Bad input: every refusal is a 4xx naming the field, in the caller's language; flags are not refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.geo.crs import from_wgs84
from app.observations.models import Observation
from app.sites.models import Site
from tests.conftest import PADDY


def _post(api: Any, body: dict[str, Any], **headers: str) -> Any:
    return api.post("/api/v1/observations", json=body, headers=headers)


def _nothing_written() -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 0 and (
        db.session.scalar(sa.select(sa.func.count()).select_from(Site)) == 0
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": "north"}, "latitude"),
        ({"latitude": 95}, "latitude"),
        ({"longitude": None}, "longitude"),
        ({"species_id": 999999}, "species_id"),
        ({"species_id": None}, "species_id"),
        ({"client_uuid": "not-a-uuid"}, "client_uuid"),
        ({"observed_at": "yesterday"}, "observed_at"),
        ({"observed_at": "0001-01-01T00:00:00"}, "observed_at"),  # once an OverflowError (500)
        ({"observed_at": "9999-12-31T23:59:59-12:00"}, "observed_at"),
        ({"township_code": "500155999"}, "township_code"),
        ({"habitat": "moon"}, "habitat"),
        ({"density_per_m2": -1}, "density_per_m2"),
        ({"count": 2.5}, "count"),
        ({"severity": 6}, "severity"),
        ({"accuracy_m": -3}, "accuracy_m"),
        ({"crs": "epsg3857"}, "crs"),
        ({"notes": "x" * 5001}, "notes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_named(
    api_as: Any, observation_payload: Any, changes: dict[str, Any], field: str
) -> None:
    response = _post(api_as("surveyor"), observation_payload(**changes))
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert field in body["errors"]
    assert _nothing_written()


def test_cover_applies_to_plants_not_to_snails(
    api_as: Any, observation_payload: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    snail = _post(api, observation_payload(cover_pct=40))
    assert snail.status_code == 422
    assert "福寿螺" in snail.get_json()["errors"]["cover_pct"][0]
    weed = observation_payload(
        species_id=species_id("alternanthera-philoxeroides"),
        cover_pct=40,
        density_per_m2=None,
        egg_masses_per_m2=None,
    )
    assert _post(api, weed).status_code == 201
    too_much = {**weed, "client_uuid": observation_payload()["client_uuid"], "cover_pct": 140}
    assert "cover_pct" in _post(api, too_much).get_json()["errors"]


def test_absence_with_presence_metrics_is_refused(api_as: Any, observation_payload: Any) -> None:
    response = _post(api_as("surveyor"), observation_payload(detected=False, severity=3))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"density_per_m2", "egg_masses_per_m2", "area_m2", "severity"} <= set(errors)
    assert _nothing_written()


def test_future_time_is_refused_but_clock_skew_is_tolerated(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = _post(api, observation_payload(observed_at=tomorrow))
    assert response.status_code == 422
    assert "晚于当前时间" in response.get_json()["errors"]["observed_at"][0]
    in_two_minutes = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert _post(api, observation_payload(observed_at=in_two_minutes)).status_code == 201


def test_another_countys_township_code_is_named_with_the_records_other_faults(
    api_as: Any, observation_payload: Any
) -> None:
    """A township code of another county was refused on its own: the unknown species, the time in the
    future and a village code of another county came back only on the next send."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = observation_payload(species_id=999_999, observed_at=tomorrow, township_code="500101001")
    response = _post(api_as("surveyor"), body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"species_id", "observed_at", "township_code"} <= set(errors)
    assert "梁平区" in errors["township_code"][0]
    village = observation_payload(species_id=999_999, village_code="500101001001")
    errors = _post(api_as("surveyor"), village).get_json()["errors"]
    assert {"species_id", "village_code"} <= set(errors)
    assert _nothing_written()


def test_point_outside_the_district_is_refused(api_as: Any, observation_payload: Any) -> None:
    beijing = observation_payload(latitude=39.9042, longitude=116.4074)
    response = _post(api_as("surveyor"), beijing)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "梁平" in errors["latitude"][0]
    assert "longitude" in errors


def test_gcj02_point_sent_as_wgs84_gets_a_hint(api_as: Any, observation_payload: Any) -> None:
    # A point near the district's edge: as WGS-84 it is ~500 m outside; read as GCJ-02 it is inside.
    district_east = 108.0833 + 0.01  # max_lon + buffer
    lat = 30.60
    # Find a GCJ-02 longitude whose WGS-84 equivalent is just inside.
    wgs_lon = district_east - 0.001
    gcj_lon, gcj_lat = from_wgs84(wgs_lon, lat, "gcj02")
    assert gcj_lon > district_east  # outside when taken as WGS-84
    response = _post(api_as("surveyor"), observation_payload(latitude=gcj_lat, longitude=gcj_lon))
    assert response.status_code == 422
    assert "gcj02" in response.get_json()["errors"]["longitude"][0]


def test_swapped_coordinates_are_refused(api_as: Any, observation_payload: Any) -> None:
    lat, lon = PADDY
    response = _post(api_as("surveyor"), observation_payload(latitude=lon, longitude=lat))
    assert response.status_code == 422
    assert "latitude" in response.get_json()["errors"]


def test_errors_speak_english_when_asked(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload(observed_at=(datetime.now(UTC) + timedelta(days=2)).isoformat())
    chinese = _post(api, body).get_json()
    english = _post(api, body, **{"Accept-Language": "en"}).get_json()
    assert "future" in english["errors"]["observed_at"][0]
    assert chinese["errors"]["observed_at"][0] != english["errors"]["observed_at"][0]


def test_malformed_and_wrong_type_bodies(api_as: Any) -> None:
    api = api_as("surveyor")
    broken = api.post("/api/v1/observations", data="{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    text = api.post("/api/v1/observations", data="lat=1", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    listed = api.post("/api/v1/observations", json=[1, 2])
    assert listed.status_code == 422


def test_low_accuracy_is_a_flag_not_an_error(api_as: Any, observation_payload: Any) -> None:
    response = _post(api_as("surveyor"), observation_payload(accuracy_m=85))
    assert response.status_code == 201
    assert response.get_json()["flags"] == ["low_accuracy"]


def test_likely_duplicate_is_flagged(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    first = _post(api, observation_payload()).get_json()
    lat = PADDY[0]
    near = _post(api, observation_payload(latitude=lat + 0.00003)).get_json()  # ~3 m north
    assert near["flags"] == ["possible_duplicate"]
    assert near["duplicate_of_id"] == first["id"]
    days_later = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    assert _post(api, observation_payload(observed_at=days_later)).get_json()["flags"] == []
    far = _post(api, observation_payload(latitude=lat + 0.001)).get_json()  # ~110 m
    assert far["flags"] == []


@pytest.mark.parametrize(
    ("language", "changes", "label", "key"),
    [
        ("zh", {"egg_masses_per_m2": -3}, "卵块密度", "egg_masses_per_m2"),
        ("en", {"egg_masses_per_m2": -3}, "Egg masses (per m²)", "egg_masses_per_m2"),
        ("zh", {"density_per_m2": "many", "cover_pct": 140}, "盖度", "cover_pct"),
        ("zh", {"observed_at": "9999-12-31T23:59:59-12:00"}, "时间", "observed_at"),
    ],
)
def test_refusals_name_fields_by_their_labels_not_their_keys(
    api_as: Any, observation_payload: Any, language: str, changes: dict[str, Any], label: str, key: str
) -> None:
    response = _post(api_as("surveyor"), observation_payload(**changes), **{"Accept-Language": language})
    assert response.status_code == 422
    body = response.get_json()
    assert key in body["errors"]  # programs still get the keys
    assert label in body["message"]
    assert not any(name in body["message"] for name in changes)
