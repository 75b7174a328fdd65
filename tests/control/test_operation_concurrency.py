"""Operations of one site recorded at the same moment (two teams' phones syncing together) leave the site
one pending next-spring check and one re-inspection per due day, not one set each: the site's row is
locked while an operation schedules (app/control/schedule.py), so each finds the others' pending ones.
Real concurrent requests, on SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.control.models import FollowUp, FollowUpKind, FollowUpStatus
from app.extensions import db
from tests.together import post_together

pytestmark = pytest.mark.real_commits

PARALLEL = 6
CHEMICAL = [1, 3, 7, 15, 30]  # 福寿螺 after 化学防治 (docs/contract.md, Follow-up)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_operations_of_one_site_at_once_leave_one_spring_check_and_one_set_of_re_inspections(
    api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor", "agriculture")
    # Noon in Liangping ten days ago: every operation below falls on that local day.
    noon = datetime.now(SHANGHAI).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=10)
    baseline = make_observation(api, observed_at=(noon - timedelta(hours=3)).isoformat(), density_per_m2=20.0)
    site_id = baseline["site_id"]
    bodies = [
        {
            "client_uuid": str(uuid.uuid4()),
            "site_id": site_id,
            "method": "chemical",
            "performed_at": (noon + timedelta(minutes=i)).astimezone(UTC).isoformat(),
            "area_m2": 1000,
            "details": {"product": "四聚乙醛", "registration_no": "PD20101234", "dose_g_per_mu": 500},
            "team": f"第{i + 1}组",
        }
        for i in range(PARALLEL)
    ]
    responses = post_together(api, "/api/v1/control-operations", bodies)
    assert [r.status_code for r in responses] == [201] * PARALLEL, [r.get_json() for r in responses]

    db.session.rollback()
    pending = db.session.scalars(
        sa.select(FollowUp).where(FollowUp.site_id == site_id, FollowUp.status == FollowUpStatus.PENDING)
    ).all()
    spring = [f for f in pending if f.kind == FollowUpKind.NEXT_SPRING]
    assert len(spring) == 1, [(f.id, f.due_on) for f in spring]
    scheduled = sorted(f.due_on for f in pending if f.kind == FollowUpKind.SCHEDULED)
    assert scheduled == [noon.date() + timedelta(days=d) for d in CHEMICAL]
    # Each operation's answer lists what it added: together, the site's set once.
    added = [f["due_on"] for r in responses for f in r.get_json()["follow_ups"] if f["kind"] == "scheduled"]
    assert sorted(added) == [d.isoformat() for d in scheduled]
    # … and each says every day the site is re-inspected, its own or those it joined (the others').
    for response in responses:
        body = response.get_json()
        days = [
            f["due_on"] for f in body["follow_ups"] + body["joined_follow_ups"] if f["kind"] == "scheduled"
        ]
        assert sorted(days) == [d.isoformat() for d in scheduled], body
        assert (
            len([f for f in body["follow_ups"] + body["joined_follow_ups"] if f["kind"] == "next_spring"])
            == 1
        )
