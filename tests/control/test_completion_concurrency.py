"""A re-inspection is completed once, whatever arrives at the same moment: two colleagues completing it
together (one wins, the other is told it is done: 409), or one phone's retries of the same completion
(all answered with the one record). SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.observations.models import Observation
from tests.conftest import PADDY
from tests.control.fieldwork import visit
from tests.together import post_together

pytestmark = pytest.mark.real_commits

LAT, LON = PADDY
PARALLEL = 8


def _observation(**fields: Any) -> dict[str, Any]:
    return visit(**fields)


def _records_at(site_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Observation).where(Observation.site_id == site_id)
    )


def test_colleagues_completing_one_re_inspection_at_once_complete_it_once(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up = operation["follow_ups"][0]
    records_before = _records_at(operation["site_id"])
    bodies = [{"observation": _observation(density_per_m2=float(i + 1))} for i in range(PARALLEL)]
    responses = post_together(api, f"/api/v1/follow-ups/{follow_up['id']}/complete", bodies)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (PARALLEL - 1), [r.get_json() for r in responses]
    [won] = [r.get_json() for r in responses if r.status_code == 200]
    # One re-inspection, one record: the losers left nothing behind to be counted in the census.
    assert _records_at(operation["site_id"]) == records_before + 1
    density = api.get(f"/api/v1/observations/{won['observation_id']}").get_json()["density_per_m2"]
    after = api.get(f"/api/v1/follow-ups/{follow_up['id']}").get_json()
    assert after["observation_id"] == won["observation_id"]
    assert after["efficacy"]["metrics"]["density"]["after"] == density


def test_one_phones_retries_of_a_completion_at_once_give_one_record(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up = operation["follow_ups"][0]
    records_before = _records_at(operation["site_id"])
    body = {"observation": _observation(density_per_m2=3.0)}
    responses = post_together(api, f"/api/v1/follow-ups/{follow_up['id']}/complete", [body] * PARALLEL)

    assert [r.status_code for r in responses] == [200] * PARALLEL, [r.get_json() for r in responses]
    assert len({r.get_json()["observation_id"] for r in responses}) == 1
    assert _records_at(operation["site_id"]) == records_before + 1
