"""Census figures a bureau signs, computed here from the rules (docs/census.md) and compared with what the
workbook and GET /api/v1/census/summary say, for both bureaus and the district, on cases the other tests do
not make: revisits that measured no area (a re-inspection counting snails, a density check), and a unit's
workbook on its bureau's form."""

from __future__ import annotations

import io
import uuid
from typing import Any

import openpyxl  # noqa: TID251
import pytest
import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind
from app.exports import writing
from app.exports.layouts import load_template
from app.exports.models import ExportKind
from app.extensions import db
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


def test_a_units_workbook_is_in_its_bureaus_template(api_as: Any, make_observation: Any) -> None:
    """A forest farm under the forestry bureau reports on the forestry bureau's form (its columns, headers
    and title), as its census categories are the forestry census's, not on the agriculture commission's;
    a township station under the commission on the commission's."""
    forestry = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    farm = Organization(code="test-forest-farm", name="某国有林场", kind=OrganizationKind.OTHER)
    farm.parent = forestry
    db.session.add(farm)
    db.session.commit()
    staff, verifier = api_as("surveyor", "test-forest-farm"), api_as("verifier", "forestry")
    _verified(staff, verifier, make_observation, "2025-05-02T10:00:00+08:00", count=40)

    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau="test-forest-farm",
        kind=ExportKind.CENSUS,
        date_from=FROM,
        date_to=TO,
        filters={"statuses": ["verified"]},
        generated_by="review",
    )
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    forestry_template = load_template("forestry")
    assert book.properties.title == forestry_template.title
    [sheet] = [s for s in forestry_template.sheets if s.source == "observations"]
    headers = [c.value for c in book[sheet.title][1]]
    assert headers == [column.header for column in sheet.columns]
    assert "数量（株/头）" in headers
    assert [r["普查类别"] for r in _table(_book(book), "类别汇总")][:3] == [
        "林草外来入侵植物",
        "林草外来入侵有害生物",
        "林草外来入侵动物",
    ]
    assert writing.template_bureau("district") == "agriculture"
    assert writing.template_bureau("agriculture") == "agriculture"


def _book(book: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}
