"""Henderson–Tilton's check plot is an untreated one: a check plot treated between its two records
(before and after) is no check, and the corrected efficacy is not computed from it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import PADDY
from tests.control.fieldwork import visit

LAT, LON = PADDY
CHECK_LAT = LAT + 0.01


def _completion(**observation: Any) -> dict[str, Any]:
    return {"observation": visit(**observation)}


def _treat_check_plot(api: Any, site_id: int, performed: datetime) -> None:
    r = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "site_id": site_id,
            "method": "hand_collection",
            "performed_at": performed.isoformat(),
            "details": {"kg_removed": 8},
        },
    )
    assert r.status_code == 201, r.get_json()


def test_a_check_plot_treated_between_its_records_gives_no_corrected_efficacy(
    api_as: Any, web_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=18.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    # Another team treats the check plot five days ago: its snails fall from 18 to 4.
    _treat_check_plot(api, check["site_id"], now - timedelta(days=5))
    make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(hours=3)).isoformat(), density_per_m2=4.0
    )
    first = operation["follow_ups"][0]
    response = api.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json=_completion(density_per_m2=3.0),
        headers={"Accept-Language": "zh"},
    )
    assert response.status_code == 200, response.get_json()
    efficacy = response.get_json()["efficacy"]
    assert efficacy["check"] == {"site_id": check["site_id"], "before": 18.0, "after": 4.0}
    # As if untreated it would read 1 − (18 × 3) / (4 × 20) = 32.5 %: not a figure to sign.
    assert efficacy["corrected_efficacy_pct"] is None
    assert efficacy["corrected_efficacy_reason"] == "check_treated"
    assert efficacy["corrected_efficacy_reason_text"] == "对照区在其防治前后两次调查之间也进行了防治"
    assert efficacy["density_reduction_pct"] == 85.0  # (20 − 3) / 20 still stands

    page = web_as(api.user).get(f"/follow-ups/{first['id']}").get_data(as_text=True)
    assert "data-corrected-efficacy-gap" in page and "对照区在其防治前后两次调查之间也进行了防治" in page


def test_a_check_plot_treated_outside_its_records_still_counts(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    # Treated long before its "before" record: untreated over the period that counts.
    old = make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=60)).isoformat(), density_per_m2=30.0
    )
    _treat_check_plot(api, old["site_id"], now - timedelta(days=50))
    make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=18.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=old["site_id"])
    make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(hours=3)).isoformat(), density_per_m2=24.0
    )
    done = api.post(
        f"/api/v1/follow-ups/{operation['follow_ups'][0]['id']}/complete",
        json=_completion(density_per_m2=3.0),
    ).get_json()
    # 1 − (18 × 3) / (24 × 20) = 1 − 54/480 = 88.75 %.
    assert done["efficacy"]["corrected_efficacy_pct"] == 88.75
    assert done["efficacy"]["corrected_efficacy_reason"] is None
