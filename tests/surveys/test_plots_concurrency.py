"""Parallel retries of one plot (a phone's outbox and a second tab sending at once) leave exactly one plot
with its quadrats, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.surveys.models import Plot, Quadrat
from tests.surveys.test_plots import plot_body
from tests.together import post_together

pytestmark = pytest.mark.real_commits

RETRIES = 12


def test_parallel_retries_of_one_plot_leave_exactly_one(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    site = make_observation(api)
    body = plot_body(species_id, site["site_id"])
    responses = post_together(api, "/api/v1/plots", [body] * RETRIES)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (RETRIES - 1) + [201], [
        r.get_json() for r in responses if r.status_code >= 300
    ]
    assert len({r.get_json()["id"] for r in responses}) == 1
    plot_id = db.session.scalar(sa.select(Plot.id).where(Plot.client_uuid == uuid.UUID(body["client_uuid"])))
    assert plot_id == responses[0].get_json()["id"]
    quadrats = db.session.scalar(sa.select(sa.func.count()).where(Quadrat.plot_id == plot_id))
    assert quadrats == 5
    db.session.rollback()


def test_parallel_clash_gives_one_plot_and_conflicts(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    site = make_observation(api)
    body = plot_body(species_id, site["site_id"])
    responses = post_together(api, "/api/v1/plots", [{**body, "notes": f"第 {i} 次"} for i in range(6)])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [r.get_json() for r in responses]
