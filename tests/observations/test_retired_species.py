"""A retired species (merged, or gone from the files) takes no new record, but what was already begun
for it goes on: a pending re-inspection of its site is completed, and its records are edited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from app.clock import local_today
from app.extensions import db
from app.species.models import Species
from tests.conftest import PADDY


def _retire(species_id: int) -> None:
    species = db.session.get(Species, species_id)
    assert species is not None
    species.retired_on = local_today()
    db.session.commit()


def test_a_pending_re_inspection_of_a_retired_species_can_still_be_completed(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _baseline = treat(api, "hand_collection", days_ago=10)
    _retire(operation["species_id"])
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observed_at": datetime.now(UTC).isoformat(),
        "latitude": PADDY[0],
        "longitude": PADDY[1],
        "accuracy_m": 5,
        "township_code": "500155001",
        "density_per_m2": 1.0,
    }
    follow_up = operation["follow_ups"][0]
    response = api.post(f"/api/v1/follow-ups/{follow_up['id']}/complete", json={"observation": body})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "done"


def test_a_record_of_a_retired_species_is_edited_but_a_new_one_is_refused(
    api_as: Any, make_observation: Any, observation_payload: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    other = make_observation(
        api,
        species_id=species_id("alternanthera-philoxeroides"),
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=30,
    )
    _retire(record["species_id"])

    kept = api.patch(f"/api/v1/observations/{record['id']}", json={"notes": "晚上复核"})
    assert kept.status_code == 200, kept.get_json()

    moved = api.patch(f"/api/v1/observations/{other['id']}", json={"species_id": record["species_id"]})
    assert moved.status_code == 422
    assert "species_id" in moved.get_json()["errors"]

    new = api.post("/api/v1/observations", json=observation_payload())
    assert new.status_code == 422
    assert "species_id" in new.get_json()["errors"]
