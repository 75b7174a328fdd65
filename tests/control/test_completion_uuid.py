"""A re-inspection is completed by a record of its own: a client_uuid already used for another record
(another re-inspection's, or a record sent on its own) is a 409 naming it, and completes nothing."""

from __future__ import annotations

from typing import Any

from tests.conftest import PADDY
from tests.control.fieldwork import visit

LAT, LON = PADDY


def _observation(**fields: Any) -> dict[str, Any]:
    return visit(**fields)


def test_one_record_does_not_complete_two_re_inspections(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    first, second = (f["id"] for f in operation["follow_ups"][:2])
    body = {"observation": _observation(density_per_m2=2.0)}
    done = api.post(f"/api/v1/follow-ups/{first}/complete", json=body)
    assert done.status_code == 200, done.get_json()

    again = api.post(f"/api/v1/follow-ups/{second}/complete", json=body, headers={"Accept-Language": "zh"})
    assert again.status_code == 409, again.get_json()
    [message] = again.get_json()["errors"]["observation.client_uuid"]
    assert str(done.get_json()["observation_id"]) in message and "复查" in message
    assert api.get(f"/api/v1/follow-ups/{second}").get_json()["status"] == "pending"
    # The first one's own retry is still answered with it.
    assert api.post(f"/api/v1/follow-ups/{first}/complete", json=body).status_code == 200


def test_a_record_sent_on_its_own_does_not_complete_a_re_inspection_elsewhere(
    api_as: Any, treat: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    # A record 2 km away, at a site of its own.
    record = observation_payload(latitude=LAT + 0.02, density_per_m2=40.0, egg_masses_per_m2=None)
    made = api.post("/api/v1/observations", json=record)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["site_id"] != operation["site_id"]

    r = api.post(f"/api/v1/follow-ups/{follow_up_id}/complete", json={"observation": record})
    assert r.status_code == 409, r.get_json()
    assert "observation.client_uuid" in r.get_json()["errors"]
    assert api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["status"] == "pending"


def test_what_is_wrong_with_the_re_inspections_record_is_named_where_it_is_in_the_body(
    api_as: Any, treat: Any, observation_payload: Any
) -> None:
    """The record sits under `observation` in a completion: its errors are named there, so the phone's
    form puts them beside its own fields (a reused client_uuid with other content; a point outside the
    district)."""
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    record = observation_payload(latitude=LAT + 0.02, density_per_m2=40.0, egg_masses_per_m2=None)
    assert api.post("/api/v1/observations", json=record).status_code == 201

    other_content = {**record, "density_per_m2": 3.0}
    r = api.post(f"/api/v1/follow-ups/{follow_up_id}/complete", json={"observation": other_content})
    assert r.status_code == 409, r.get_json()
    assert list(r.get_json()["errors"]) == ["observation.client_uuid"]

    outside = _observation(latitude=35.0)
    r = api.post(f"/api/v1/follow-ups/{follow_up_id}/complete", json={"observation": outside})
    assert r.status_code == 422, r.get_json()
    assert set(r.get_json()["errors"]) == {"observation.latitude", "observation.longitude"}, r.get_json()
    assert api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["status"] == "pending"
