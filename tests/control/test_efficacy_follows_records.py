"""A re-inspection's efficacy follows its records after it is completed: a record rejected since (the
re-inspection's own, the baseline) or corrected by its surveyor is not left behind in the figures the
follow-up, its page and the census workbook show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import PADDY
from tests.control.fieldwork import complete

LAT, LON = PADDY


def _complete(api: Any, follow_up_id: int, **observation: Any) -> Any:
    r = complete(api, follow_up_id, **observation)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_corrected_re_inspection_record_corrects_the_efficacy(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)  # baseline: 20 snails/m², 6 egg masses/m²
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=0.3, egg_masses_per_m2=3.0)
    assert done["efficacy"]["density_reduction_pct"] == 98.5  # (20 − 0.3) / 20, a slip of the finger
    r = api.patch(f"/api/v1/observations/{done['observation_id']}", json={"density_per_m2": 3.0})
    assert r.status_code == 200, r.get_json()

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()
    assert after["efficacy"]["density_reduction_pct"] == 85.0  # (20 − 3) / 20
    assert after["efficacy"]["metrics"]["density"] == {"before": 20.0, "after": 3.0, "reduction_pct": 85.0}
    assert after["efficacy"]["egg_mass_reduction_pct"] == 50.0  # (6 − 3) / 6, unchanged


def test_a_rejected_re_inspection_record_counts_in_no_efficacy(
    api_as: Any, web_as: Any, make_user: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    verifier = api_as(make_user("verifier"))
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=0.3)
    assert done["efficacy"]["density_reduction_pct"] == 98.5
    r = verifier.post(
        f"/api/v1/observations/{done['observation_id']}/review",
        json={"decision": "rejected", "comment": "密度填错"},
    )
    assert r.status_code == 200, r.get_json()

    after = api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()
    assert after["status"] == "done"
    assert after["efficacy"] is None
    page = web_as(api.user).get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert "98.5" not in page
    assert "复查记录已被驳回" in page


def test_a_baseline_rejected_after_the_re_inspection_is_replaced_in_its_efficacy(
    api_as: Any, make_user: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    verifier = api_as(make_user("verifier"))
    performed = datetime.now(UTC) - timedelta(days=5)
    good = make_observation(api, observed_at=(performed - timedelta(days=2)).isoformat(), density_per_m2=20.0)
    bad = make_observation(
        api, observed_at=(performed - timedelta(hours=1)).isoformat(), density_per_m2=900.0
    )
    r = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "site_id": good["site_id"],
            "method": "hand_collection",
            "performed_at": performed.isoformat(),
            "details": {"kg_removed": 3},
        },
    )
    op = r.get_json()
    done = _complete(api, op["follow_ups"][0]["id"], density_per_m2=10.0)
    assert done["efficacy"]["baseline_observation_id"] == bad["id"]  # not yet reviewed
    r = verifier.post(
        f"/api/v1/observations/{bad['id']}/review", json={"decision": "rejected", "comment": "错"}
    )
    assert r.status_code == 200, r.get_json()

    after = api.get(f"/api/v1/follow-ups/{op['follow_ups'][0]['id']}").get_json()
    assert after["efficacy"]["baseline_observation_id"] == good["id"]
    assert after["efficacy"]["density_reduction_pct"] == 50.0  # (20 − 10) / 20, not (900 − 10) / 900


def test_a_re_inspection_record_moved_to_another_species_counts_in_no_efficacy(
    api_as: Any, web_as: Any, treat: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=2.0)
    assert done["efficacy"]["density_reduction_pct"] == 90.0  # (20 − 2) / 20
    # Its surveyor says it was 美国白蛾 after all: the record leaves the 福寿螺 site.
    r = api.patch(
        f"/api/v1/observations/{done['observation_id']}",
        json={"species_id": species_id("hyphantria-cunea")},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["site_id"] != operation["site_id"]

    assert api.get(f"/api/v1/follow-ups/{follow_up_id}").get_json()["efficacy"] is None
    page = web_as(api.user).get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert "复查记录已移至其他发生点" in page
