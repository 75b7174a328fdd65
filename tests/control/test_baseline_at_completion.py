"""The baseline an efficacy rests on is checked when the efficacy is worked out, not only when the
treatment was recorded: a record rejected, moved to another site or species, turned into an absence or
moved after the treatment since then is not the figures before treatment (docs/contract.md §2,
Follow-up)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import PADDY
from tests.control.fieldwork import complete

LAT, LON = PADDY


def _complete(api: Any, follow_up_id: int, **observation: Any) -> Any:
    return complete(api, follow_up_id, **observation)


def _treat(api: Any, performed: datetime, **fields: Any) -> dict[str, Any]:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "method": "hand_collection",
        "performed_at": performed.isoformat(),
        "details": {"kg_removed": 3},
        **fields,
    }
    r = api.post("/api/v1/control-operations", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_a_baseline_rejected_after_the_treatment_was_recorded_is_not_the_efficacys(
    api_as: Any, make_user: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    verifier = api_as(make_user("verifier"))
    performed = datetime.now(UTC) - timedelta(days=5)
    good = make_observation(api, observed_at=(performed - timedelta(days=2)).isoformat(), density_per_m2=20.0)
    bad = make_observation(
        api, observed_at=(performed - timedelta(hours=1)).isoformat(), density_per_m2=900.0
    )
    op = _treat(api, performed, site_id=good["site_id"])
    assert op["baseline_observation_id"] == bad["id"]  # not yet reviewed: the latest record before
    r = verifier.post(
        f"/api/v1/observations/{bad['id']}/review", json={"decision": "rejected", "comment": "错"}
    )
    assert r.status_code == 200, r.get_json()

    done = _complete(api, op["follow_ups"][0]["id"], density_per_m2=10.0).get_json()
    # (20 − 10) / 20 = 50 %, from the record still standing; 900 would have given 98.89 %.
    assert done["efficacy"]["density_reduction_pct"] == 50.0
    assert done["efficacy"]["baseline_observation_id"] == good["id"]


def test_a_baseline_edited_to_another_species_is_not_the_efficacys(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    performed = datetime.now(UTC) - timedelta(days=5)
    older = make_observation(
        api, observed_at=(performed - timedelta(days=3)).isoformat(), density_per_m2=16.0
    )
    named = make_observation(
        api, observed_at=(performed - timedelta(days=1)).isoformat(), density_per_m2=40.0
    )
    assert named["site_id"] == older["site_id"]
    op = _treat(api, performed, observation_id=named["id"])
    assert op["baseline_observation_id"] == named["id"]
    # Its surveyor corrects the species: the record leaves the 福寿螺 site for a 美国白蛾 one.
    r = api.patch(
        f"/api/v1/observations/{named['id']}",
        json={"species_id": species_id("hyphantria-cunea"), "egg_masses_per_m2": None},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["site_id"] != op["site_id"]

    done = _complete(api, op["follow_ups"][0]["id"], density_per_m2=4.0).get_json()
    # (16 − 4) / 16 = 75 %, against the site's own record; the moved one would have given 90 %.
    assert done["efficacy"]["density_reduction_pct"] == 75.0
    assert done["efficacy"]["baseline_observation_id"] == older["id"]


def test_a_baseline_edited_to_after_the_treatment_is_not_the_efficacys(
    api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    performed = datetime.now(UTC) - timedelta(days=5)
    older = make_observation(
        api, observed_at=(performed - timedelta(days=3)).isoformat(), density_per_m2=30.0
    )
    named = make_observation(api, observed_at=(performed - timedelta(days=1)).isoformat(), density_per_m2=8.0)
    op = _treat(api, performed, observation_id=named["id"])
    later = (performed + timedelta(days=2)).isoformat()
    r = api.patch(f"/api/v1/observations/{named['id']}", json={"observed_at": later})
    assert r.status_code == 200, r.get_json()

    done = _complete(api, op["follow_ups"][0]["id"], density_per_m2=6.0).get_json()
    # (30 − 6) / 30 = 80 %; the record now dated after the treatment would have given 25 %.
    assert done["efficacy"]["density_reduction_pct"] == 80.0
    assert done["efficacy"]["baseline_observation_id"] == older["id"]


def test_an_absence_is_not_the_baseline_a_treatment_names(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    performed = datetime.now(UTC) - timedelta(days=5)
    found = make_observation(
        api, observed_at=(performed - timedelta(days=3)).isoformat(), density_per_m2=30.0
    )
    nothing = make_observation(
        api,
        observed_at=(performed - timedelta(days=1)).isoformat(),
        detected=False,
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
    )
    assert nothing["site_id"] == found["site_id"]  # an absence within the radius joins the site
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observation_id": nothing["id"],
        "method": "hand_collection",
        "performed_at": performed.isoformat(),
        "details": {"kg_removed": 3},
    }
    r = api.post("/api/v1/control-operations", json=body, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422, r.get_json()
    [message] = r.get_json()["errors"]["observation_id"]
    assert "未发现" in message
    # With the site named instead, the baseline is the site's last record that found it.
    op = _treat(api, performed, site_id=found["site_id"])
    assert op["baseline_observation_id"] == found["id"]
