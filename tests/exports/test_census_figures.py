"""Census figures a bureau signs, computed here from the rules (docs/census.md) and compared with what the
workbook and GET /api/v1/census/summary say, for both bureaus and the district, on cases the other tests do
not make: revisits that measured no area (a re-inspection counting snails, a density check)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import PADDY
from tests.exports.test_sheets_agree import FROM, MU, TO, _export, _table

LAT, LON = PADDY


def _verified(api: Any, verifier: Any, make_observation: Any, when: str, **kw: Any) -> dict[str, Any]:
    body = make_observation(api, observed_at=when, **kw)
    r = verifier.post(f"/api/v1/observations/{body['id']}/review", json={"decision": "verified"})
    assert r.status_code == 200, r.get_json()
    return body


def _summary(api: Any, bureau: str) -> dict[str, Any]:
    r = api.get(f"/api/v1/census/summary?bureau={bureau}&from={FROM}&to={TO}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_a_revisit_that_measured_no_area_leaves_the_sites_area(api_as: Any, make_observation: Any) -> None:
    """A site of 3000 m² revisited by a re-inspection that counted snails but gave no area is still 4.5 亩,
    not 0 (发生面积 is the area of the site's latest presence record that measured one). A later visit that
    measured an area still replaces it; each bureau counts its own records only."""
    ag, agv = api_as("surveyor", "agriculture"), api_as("verifier", "agriculture")
    fo, fov = api_as("surveyor", "forestry"), api_as("verifier", "forestry")
    # Site A (agriculture): measured, then treated, then the re-inspection's visit gives density only.
    a = _verified(ag, agv, make_observation, "2025-05-02T10:00:00+08:00", area_m2=3000)
    r = ag.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "observation_id": a["id"],
            "method": "hand_collection",
            "performed_at": "2025-05-03T09:00:00+08:00",
            "area_m2": 3000,
            "details": {"kg_removed": 3},
            "follow_up_days": [7],
        },
    )
    assert r.status_code == 201, r.get_json()
    [follow_up] = [f for f in r.get_json()["follow_ups"] if f["due_on"] == "2025-05-10"]
    visit = {
        "client_uuid": str(uuid.uuid4()),
        "observed_at": "2025-05-10T10:00:00+08:00",
        "latitude": LAT,
        "longitude": LON,
        "accuracy_m": 5,
        "township_code": "500155001",
        "density_per_m2": 2.0,
    }
    r = ag.post(f"/api/v1/follow-ups/{follow_up['id']}/complete", json={"observation": visit})
    assert r.status_code == 200, r.get_json()
    [record] = agv.get("/api/v1/observations?status=submitted").get_json()["items"]  # the visit's
    assert (record["site_id"], record["detected"], record["area_m2"]) == (a["site_id"], True, None)
    r = agv.post(f"/api/v1/observations/{record['id']}/review", json={"decision": "verified"})
    assert r.status_code == 200, r.get_json()
    # Site B (agriculture): 2000 m², then a density check with no area, then 500 m² measured: 500 m².
    b_lat = LAT + 0.01
    _verified(ag, agv, make_observation, "2025-05-04T10:00:00+08:00", latitude=b_lat, area_m2=2000)
    _verified(ag, agv, make_observation, "2025-05-05T10:00:00+08:00", latitude=b_lat, area_m2=500)
    _verified(ag, agv, make_observation, "2025-05-06T10:00:00+08:00", latitude=b_lat, area_m2=None)
    # Forestry visits site A with no area: its own census has the site with no measured area.
    _verified(fo, fov, make_observation, "2025-05-20T10:00:00+08:00", area_m2=None)

    expected = {"agriculture": 3000 + 500, "forestry": 0, "district": 3000 + 500}
    admin = api_as("admin", "agriculture")
    for bureau, area_m2 in expected.items():
        points = 1 if bureau == "forestry" else 2
        [row] = _table(_export(bureau), "物种汇总")
        assert row["发生点数"] == points, bureau
        assert row["发生面积（亩）"] == pytest.approx(area_m2 / MU, abs=1e-4), bureau
        occurrence = _summary(admin, bureau)["occurrence"]
        assert occurrence["points"] == points, bureau
        assert occurrence["area_m2"] == pytest.approx(area_m2, abs=0.01), bureau
    book = _export("agriculture")
    [town] = _table(book, "乡镇汇总")
    assert town["发生面积（亩）"] == pytest.approx(3500 / MU, abs=1e-4)
    categories = [r for r in _table(book, "类别汇总") if r["发生点数"]]
    assert categories and all(r["发生面积（亩）"] == pytest.approx(3500 / MU, abs=1e-4) for r in categories)
