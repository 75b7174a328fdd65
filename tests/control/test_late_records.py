"""A record that reaches us after a re-inspection it counts in was completed (a phone that synced late):
the stored efficacy is worked out again, as after an edit, and the change is audited; a new record that
counts in no completed re-inspection costs the create one statement and loads nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from tests.conftest import PADDY
from tests.control.fieldwork import complete

LAT, LON = PADDY
CHECK_LAT = LAT + 0.01


def _complete(api: Any, follow_up_id: int, **observation: Any) -> dict[str, Any]:
    r = complete(api, follow_up_id, **observation)
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def _efficacy_audits(follow_up_id: int) -> list[AuditLog]:
    return [
        entry
        for entry in db.session.scalars(
            sa.select(AuditLog)
            .where(AuditLog.entity_type == "follow_ups", AuditLog.entity_id == str(follow_up_id))
            .order_by(AuditLog.id)
        )
        if "efficacy" in (entry.changes or {})
    ]


def test_a_check_plot_record_synced_after_the_completion_enters_its_efficacy(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    colleague = api_as("surveyor")
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=18.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=3.0)
    # The check plot's reading after the treatment is still on a colleague's phone.
    assert done["efficacy"]["check"] == {"site_id": check["site_id"], "before": 18.0, "after": None}
    assert done["efficacy"]["corrected_efficacy_pct"] is None
    audited = len(_efficacy_audits(follow_up_id))

    late = make_observation(
        colleague,
        latitude=CHECK_LAT,
        observed_at=(now - timedelta(hours=3)).isoformat(),
        density_per_m2=16.0,
    )
    assert late["site_id"] == check["site_id"]

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["efficacy"]
    assert after["check"] == {"site_id": check["site_id"], "before": 18.0, "after": 16.0}
    # 1 − (18 × 3) / (16 × 20) = 83.125 %
    assert after["corrected_efficacy_pct"] == 83.12
    assert after["corrected_efficacy_reason"] is None
    entries = _efficacy_audits(follow_up_id)
    assert len(entries) == audited + 1
    assert entries[-1].actor_id == colleague.user.id
    before_value, after_value = entries[-1].changes["efficacy"]
    assert before_value["corrected_efficacy_pct"] is None and after_value["corrected_efficacy_pct"] == 83.12


def test_a_baseline_synced_after_the_completion_becomes_the_baseline(
    api_as: Any, make_user: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    colleague = api_as("surveyor")
    verifier = api_as(make_user("verifier"))
    performed = datetime.now(UTC) - timedelta(days=5)
    first = make_observation(
        api, observed_at=(performed - timedelta(days=3)).isoformat(), density_per_m2=20.0
    )
    r = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "site_id": first["site_id"],
            "method": "hand_collection",
            "performed_at": performed.isoformat(),
            "details": {"kg_removed": 3},
        },
    )
    assert r.status_code == 201, r.get_json()
    follow_up_id = r.get_json()["follow_ups"][0]["id"]
    # The site's one record before the treatment is judged wrong: no baseline is left.
    r = verifier.post(
        f"/api/v1/observations/{first['id']}/review", json={"decision": "rejected", "comment": "错"}
    )
    assert r.status_code == 200, r.get_json()
    done = _complete(api, follow_up_id, density_per_m2=10.0)
    assert done["efficacy"] is None
    audited = len(_efficacy_audits(follow_up_id))

    # Made an hour before the treatment, synced only now: the site's latest record before it.
    late = make_observation(
        colleague, observed_at=(performed - timedelta(hours=1)).isoformat(), density_per_m2=40.0
    )
    assert late["site_id"] == first["site_id"]

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["efficacy"]
    assert after["baseline_observation_id"] == late["id"]
    assert after["density_reduction_pct"] == 75.0  # (40 − 10) / 40
    entries = _efficacy_audits(follow_up_id)
    assert len(entries) == audited + 1
    assert entries[-1].changes["efficacy"][0] is None
    assert entries[-1].changes["efficacy"][1]["baseline_observation_id"] == late["id"]


def test_a_record_outside_the_windows_leaves_the_efficacy_and_loads_no_follow_up(
    api_as: Any, make_observation: Any, treat: Any, count_queries: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=18.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(
        api, follow_up_id, density_per_m2=3.0, observed_at=(now - timedelta(hours=2)).isoformat()
    )
    audited = len(_efficacy_audits(follow_up_id))

    # At the treated site after the treatment, at the check plot after the re-inspection: neither is
    # read by this efficacy.
    for latitude, hours_ago in ((LAT, 5), (CHECK_LAT, 1)):
        body = observation_payload(
            latitude=latitude, observed_at=(now - timedelta(hours=hours_ago)).isoformat(), density_per_m2=9.0
        )
        with count_queries() as queries:
            r = api.post("/api/v1/observations", json=body)
        assert r.status_code == 201, r.get_json()
        # One statement asks; no follow-up is loaded, nothing is worked out again.
        assert len([q for q in queries if "follow_ups" in q]) == 1, queries

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["efficacy"]
    assert after == done["efficacy"]
    assert len(_efficacy_audits(follow_up_id)) == audited


def test_a_record_opening_a_site_asks_nothing_of_the_follow_ups(
    api_as: Any, count_queries: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    with count_queries() as queries:
        r = api.post("/api/v1/observations", json=observation_payload())
    assert r.status_code == 201, r.get_json()
    assert not [q for q in queries if "follow_ups" in q], queries


def _completed_with_check_plot(api: Any, make_observation: Any, treat: Any) -> tuple[int, int]:
    """A site treated 10 days ago against a check plot read 11 days and 5 hours ago (18 → 16 per m²),
    its re-inspection completed at 3 per m²: Henderson–Tilton 83.12 %. Returns (follow-up id, check
    plot's site id)."""
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=18.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(hours=5)).isoformat(), density_per_m2=16.0
    )
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=3.0)
    assert done["efficacy"]["corrected_efficacy_pct"] == 83.12
    return follow_up_id, check["site_id"]


def _treat_site(api: Any, site_id: int, performed_at: datetime) -> None:
    r = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "site_id": site_id,
            "method": "hand_collection",
            "performed_at": performed_at.isoformat(),
            "details": {"kg_removed": 2},
        },
    )
    assert r.status_code == 201, r.get_json()


def test_a_treatment_of_the_check_plot_synced_after_the_completion_takes_its_correction_away(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    """The check plot was treated between its readings, but that operation reached us only after the
    re-inspection was completed: the check plot is no untreated check, as if it had come in time."""
    api = api_as("surveyor")
    colleague = api_as("surveyor")
    follow_up_id, check_site_id = _completed_with_check_plot(api, make_observation, treat)
    audited = len(_efficacy_audits(follow_up_id))

    _treat_site(colleague, check_site_id, datetime.now(UTC) - timedelta(days=4))

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["efficacy"]
    assert after["corrected_efficacy_pct"] is None
    assert after["corrected_efficacy_reason"] == "check_treated"
    entries = _efficacy_audits(follow_up_id)
    assert len(entries) == audited + 1 and entries[-1].actor_id == colleague.user.id


def test_a_treatment_of_the_check_plot_after_its_readings_changes_nothing(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    follow_up_id, check_site_id = _completed_with_check_plot(api, make_observation, treat)
    audited = len(_efficacy_audits(follow_up_id))

    _treat_site(api, check_site_id, datetime.now(UTC) - timedelta(minutes=30))

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["efficacy"]
    assert after["corrected_efficacy_pct"] == 83.12
    assert len(_efficacy_audits(follow_up_id)) == audited
