"""JSON bodies bound memory before they are parsed (docs/contract.md §6, "every parser bounds memory as well
as size"): parsed JSON costs 50-100 bytes per value, so the body's values are counted first. Without the
count, 25 MB of `[[],[],…]` sent to the public token endpoint cost over a gigabyte and a minute of CPU."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from app.api import MAX_JSON_VALUES
from app.surveys.tracks import MAX_POINTS


def test_a_body_of_too_many_values_is_413_before_sign_in(client: FlaskClient) -> None:
    body = b"[" + b"[]," * (MAX_JSON_VALUES // 2 + 1) + b"[]]"  # about 1 MB
    answer = client.post("/api/v1/auth/tokens", data=body, content_type="application/json")
    assert answer.status_code == 413
    assert "json" in answer.get_json()["errors"]


def test_objects_count_as_well_as_arrays(api_as: Any) -> None:
    body = "[" + ",".join(["{}"] * (MAX_JSON_VALUES // 2 + 1)) + "]"
    answer = api_as("surveyor").post("/api/v1/observations", data=body, content_type="application/json")
    assert answer.status_code == 413


def test_the_largest_route_is_not_refused_for_its_values(api_as: Any) -> None:
    point = {"t": "2026-05-01T08:00:00+08:00", "lat": 30.672345, "lon": 107.801234, "accuracy_m": 4.5}
    body = {
        "client_uuid": "3f0c1a52-6c1e-4d6b-9a62-0d5b8a8e7e11",
        "campaign_id": 2**31 - 2,  # no such campaign: refused for that, after the body was read
        "started_at": "2026-05-01T08:00:00+08:00",
        "ended_at": "2026-05-01T09:00:00+08:00",
        "points": [point] * MAX_POINTS,
    }
    answer = api_as("surveyor").post("/api/v1/routes", data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 422, answer.get_json()["errors"]
    assert "campaign_id" in answer.get_json()["errors"]
