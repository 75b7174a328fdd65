"""Twenty phones' retries of one record arriving at once leave exactly one record (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.observations.models import Observation
from app.sites.models import Site
from tests.together import post_together

pytestmark = pytest.mark.real_commits

RETRIES = 20


def test_parallel_retries_of_one_record_leave_exactly_one(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload()
    responses = post_together(api, "/api/v1/observations", [body] * RETRIES)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (RETRIES - 1) + [201], [
        r.get_json() for r in responses if r.status_code >= 300
    ]
    assert len({r.get_json()["id"] for r in responses}) == 1
    rows = db.session.scalar(
        sa.select(sa.func.count()).where(Observation.client_uuid == uuid.UUID(body["client_uuid"]))
    )
    assert rows == 1
    sites = db.session.scalar(
        sa.select(sa.func.count()).select_from(Site).where(Site.id == responses[0].get_json()["site_id"])
    )
    assert sites == 1


def test_parallel_clash_gives_one_record_and_conflicts(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    body = observation_payload()
    variants = [{**body, "density_per_m2": float(i)} for i in range(10)]
    responses = post_together(api, "/api/v1/observations", variants)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.get_json() for r in responses]


def test_parallel_new_sites_get_distinct_codes(api_as: Any, observation_payload: Any) -> None:
    api = api_as("surveyor")
    bodies = [observation_payload(latitude=30.60 + i * 0.002, longitude=107.75) for i in range(10)]
    responses = post_together(api, "/api/v1/observations", bodies)
    assert all(r.status_code == 201 for r in responses), [r.get_json() for r in responses]
    codes = [r.get_json()["site_code"] for r in responses]
    assert len(set(codes)) == 10
