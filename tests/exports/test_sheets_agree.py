"""A census workbook's sheets agree with each other and with the counting rules (docs/census.md,
docs/contract.md §3.3), on data made to trip them: revisits, two bureaus on one site, records and treatments
a minute either side of the period's local days, records not verified, absences, polygons beside typed
areas, treatments repeated on one site, a cancelled re-inspection. Each bureau's workbook is read back with
openpyxl and every figure compared with one computed here from the rules. (Written from a review that found
the detail sheets showing typed areas where the summaries count polygons, 复查汇总 counting cancelled
re-inspections as due, and 调查记录 totalling 发生面积 over visits.)"""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

import openpyxl  # noqa: TID251
import pytest
import shapely
import sqlalchemy as sa
from pyproj import Geod
from shapely.geometry import shape

from app.accounts.models import Organization
from app.control.models import FollowUp, FollowUpStatus
from app.district.models import Township
from app.exports import writing
from app.exports.models import ExportKind
from app.extensions import db
from app.sites.models import Site
from tests.areas.shapes import square
from tests.conftest import PADDY

LAT, LON = PADDY
MU = 10000 / 15
GEOD = Geod(ellps="WGS84")
T1, T2 = "500155001", "500155002"
FROM, TO = date(2025, 5, 1), date(2025, 5, 31)


def _area(*geometries: dict[str, Any]) -> float:
    merged = shapely.union_all([shape(g) for g in geometries])
    return abs(GEOD.geometry_area_perimeter(merged)[0])


def _export(bureau: str, **filters: Any) -> dict[str, list[tuple[Any, ...]]]:
    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau=bureau,
        kind=ExportKind.CENSUS,
        date_from=FROM,
        date_to=TO,
        filters={"statuses": ["verified"], **filters},
        generated_by="review",
    )
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def _table(book: dict[str, list[tuple[Any, ...]]], title: str) -> list[dict[str, Any]]:
    rows = book[title]
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:] if r[0] != "合计"]


def _total_row(book: dict[str, list[tuple[Any, ...]]], title: str) -> dict[str, Any] | None:
    rows = book[title]
    for r in rows[1:]:
        if r[0] == "合计":
            return dict(zip(rows[0], r, strict=True))
    return None


@pytest.fixture
def data(api_as: Any, make_user: Any, make_observation: Any) -> dict[str, Any]:
    make_user("supervisor", "agriculture")
    make_user("supervisor", "forestry")
    ag = api_as("surveyor", "agriculture")
    agv = api_as("verifier", "agriculture")
    fo = api_as("surveyor", "forestry")
    fov = api_as("verifier", "forestry")

    def rec(
        api: Any, verifier: Any, when: str, decision: str | None = "verified", **kw: Any
    ) -> dict[str, Any]:
        body = make_observation(api, observed_at=when, **kw)
        if decision:
            comment = None if decision == "verified" else "check"
            r = verifier.post(
                f"/api/v1/observations/{body['id']}/review", json={"decision": decision, "comment": comment}
            )
            assert r.status_code == 200, r.get_json()
        return body

    # Site A (PADDY, T1): agriculture revisits, with local-day boundary records.
    a0 = rec(ag, agv, "2025-04-30T23:59:00+08:00", area_m2=9000, severity=5)  # outside
    a1 = rec(ag, agv, "2025-05-01T00:01:00+08:00", area_m2=1000, severity=1)
    rec(ag, agv, "2025-05-10T10:00:00+08:00", area_m2=2000, severity=2)
    rec(ag, agv, "2025-05-31T23:59:00+08:00", area_m2=3000, severity=3)  # latest in period
    rec(ag, agv, "2025-06-01T00:01:00+08:00", area_m2=7000, severity=4)  # outside
    rec(ag, agv, "2025-05-20T10:00:00+08:00", decision=None, area_m2=8000, severity=5)  # submitted
    rec(
        ag,
        agv,
        "2025-05-21T10:00:00+08:00",
        detected=False,
        area_m2=None,
        density_per_m2=None,
        egg_masses_per_m2=None,
    )  # absence at the site, verified
    # Forestry on the same site.
    af = rec(fo, fov, "2025-05-15T10:00:00+08:00", area_m2=5000, severity=2)
    assert af["site_id"] == a1["site_id"] == a0["site_id"]
    site_a = a1["site_id"]

    # Site B: absences only (verified).
    rec(
        ag,
        agv,
        "2025-05-05T10:00:00+08:00",
        latitude=LAT + 0.003,
        detected=False,
        area_m2=None,
        density_per_m2=None,
        egg_masses_per_m2=None,
    )
    # Site C: rejected and returned presences only.
    rec(ag, agv, "2025-05-06T10:00:00+08:00", decision="rejected", latitude=LAT + 0.012, area_m2=4000)
    rec(ag, agv, "2025-05-07T10:00:00+08:00", decision="returned", latitude=LAT + 0.012, area_m2=4000)

    # Site D (T2): polygons, overlapping, and a later typed-only visit.
    d_lat = LAT + 0.006
    d1, d2 = square(LON, d_lat, 100), square(LON, d_lat, 100, east_m=50)
    d = rec(
        ag,
        agv,
        "2025-05-03T10:00:00+08:00",
        latitude=d_lat,
        township_code=T2,
        area_m2=None,
        geometry=d1,
        severity=2,
    )
    rec(
        ag,
        agv,
        "2025-05-04T10:00:00+08:00",
        latitude=d_lat,
        township_code=T2,
        area_m2=10000,
        geometry=d2,
        severity=1,
    )
    rec(ag, agv, "2025-05-05T10:00:00+08:00", latitude=d_lat, township_code=T2, area_m2=500, severity=1)
    site_d = d["site_id"]

    def op(api: Any, site: int, when: str, method: str = "chemical", **kw: Any) -> dict[str, Any]:
        details = {
            "chemical": {"product": "四聚乙醛", "registration_no": "PD20101234", "dose_g_per_mu": 500},
            "hand_collection": {"kg_removed": 12.5},
        }[method]
        body = {
            "client_uuid": str(uuid.uuid4()),
            "site_id": site,
            "method": method,
            "performed_at": when,
            "details": details,
            "labour_person_days": 1.5,
            "cost_yuan": 320,
            **kw,
        }
        r = api.post("/api/v1/control-operations", json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    two_mu = 2 * MU
    op(ag, site_a, "2025-04-30T23:59:00+08:00", area_m2=two_mu)  # outside
    op(ag, site_a, "2025-05-01T00:01:00+08:00", area_m2=two_mu)
    op(ag, site_a, "2025-05-12T10:00:00+08:00", area_m2=two_mu)
    op(ag, site_a, "2025-05-31T23:59:00+08:00", area_m2=two_mu)
    op(ag, site_a, "2025-06-01T00:01:00+08:00", area_m2=two_mu)  # outside
    op(fo, site_a, "2025-05-16T10:00:00+08:00", "hand_collection", area_m2=two_mu)  # forestry's
    t1 = square(LON, d_lat, 60)
    op(ag, site_d, "2025-05-06T10:00:00+08:00", area_m2=1000, geometry=t1)  # typed ≠ polygon
    op(ag, site_d, "2025-05-07T10:00:00+08:00", "hand_collection", area_m2=8000)

    # Cancel one agriculture follow-up due in the period.
    sup = api_as("supervisor", "agriculture")
    ag_org = db.session.scalar(sa.select(Organization.id).where(Organization.code == "agriculture"))
    due = db.session.scalars(
        sa.select(FollowUp)
        .where(FollowUp.organization_id == ag_org, FollowUp.due_on >= FROM, FollowUp.due_on <= TO)
        .order_by(FollowUp.id)
    ).all()
    assert due
    r = sup.patch(f"/api/v1/follow-ups/{due[0].id}", json={"status": "cancelled", "cancelled_reason": "rain"})
    assert r.status_code == 200, r.get_json()
    return {"d1": d1, "d2": d2, "t1": t1, "ag_org": ag_org}


def _mu(m2: float) -> float:
    return m2 / MU


def test_each_bureaus_summary_figures_follow_the_rules(data: dict[str, Any]) -> None:
    d_area, t1_area = _area(data["d1"], data["d2"]), _area(data["t1"])
    book = _export("agriculture")
    [snail] = _table(book, "物种汇总")
    # Site A: latest verified presence in the local period is 05-31 23:59 (3000 m²); D: union of polygons.
    assert (snail["发生点数"], snail["分布乡镇数"], snail["最高危害程度"]) == (2, 2, 3)
    assert snail["发生面积（亩）"] == pytest.approx(_mu(3000 + d_area), abs=1e-3)
    method = {r["防治措施"]: r for r in _table(book, "防治汇总")}
    chem = method["化学防治"]
    assert chem["防治次数"] == 4  # 05-01 00:01, 05-12, 05-31 23:59 at A; one at D
    assert chem["防治面积（亩次）"] == pytest.approx(6 + _mu(t1_area), abs=1e-3)
    assert chem["防治范围（亩）"] == pytest.approx(2 + _mu(t1_area), abs=1e-3)
    town = {r["乡镇代码"]: r for r in _table(book, "乡镇防治汇总")}
    assert town[T2]["防治范围（亩）"] == pytest.approx(12, abs=1e-3)  # max(union 5.4, typed 12)
    assert (town[T1]["防治次数"], town[T1]["防治面积（亩次）"], town[T1]["防治范围（亩）"]) == (3, 6, 2)

    [fo] = _table(_export("forestry"), "物种汇总")
    assert (fo["发生点数"], fo["发生面积（亩）"], fo["最高危害程度"]) == (1, 7.5, 2)
    [di] = _table(_export("district"), "物种汇总")
    assert (di["发生点数"], di["最高危害程度"]) == (2, 3)
    assert di["发生面积（亩）"] == pytest.approx(_mu(3000 + d_area), abs=1e-3)


def test_the_detail_sheets_show_the_areas_the_summaries_count(data: dict[str, Any]) -> None:
    """防治记录: an operation with a treated polygon shows the polygon's area (not its typed 1,000 m²), so
    the sheet's total is the summaries' 亩次. 调查记录: a record with a polygon shows the polygon's area (not
    its typed 10,000 m²); an absence shows none."""
    book = _export("agriculture")
    operations = _table(book, "防治记录")
    treated = [r for r in operations if r["防治面积（亩）"] is not None and r["防治面积（亩）"] < 6]
    polygon_mu = round(_mu(_area(data["t1"])), 3)
    assert sorted(round(r["防治面积（亩）"], 3) for r in treated) == [2.0, 2.0, 2.0, polygon_mu]
    detail = sum(r["防治面积（亩）"] or 0 for r in operations)
    summary = sum(r["防治面积（亩次）"] for r in _table(book, "乡镇防治汇总"))
    assert detail == pytest.approx(summary, abs=0.01)

    records = _table(book, "调查记录")
    d2_row = next(r for r in records if r["发生面积（亩）"] and abs(r["发生面积（亩）"] - _mu(10000)) < 2)
    assert d2_row["发生面积（亩）"] == pytest.approx(_mu(_area(data["d2"])), abs=1e-3)
    absences = [r for r in records if r["是否发现"] in ("否", False)]
    assert absences and all(r["发生面积（亩）"] is None for r in absences)


def test_reinspections_due_agree_across_sheets(data: dict[str, Any]) -> None:
    """应复查 leaves the cancelled out on 复查汇总 as on 乡镇汇总; the cancelled one has its own column."""
    book = _export("agriculture")
    not_cancelled = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(FollowUp)
        .where(
            FollowUp.organization_id == data["ag_org"],
            FollowUp.due_on >= FROM,
            FollowUp.due_on <= TO,
            FollowUp.status != FollowUpStatus.CANCELLED,
        )
    )
    assert sum(r["应复查"] for r in _table(book, "乡镇汇总")) == not_cancelled
    summary = _table(book, "复查汇总")
    assert sum(r["应复查"] for r in summary) == not_cancelled
    assert sum(r["已取消"] for r in summary) == 1
    assert all(r["应复查"] == r["已完成"] + r["待复查"] for r in summary)


def test_the_record_sheet_does_not_total_occurrence_area_over_visits(data: dict[str, Any]) -> None:
    """A site visited four times is four rows of 调查记录: a total of its area or of its 数量 there would
    count it four times, so the sheet has no 合计 row at all (物种汇总 counts the site once)."""
    book = _export("agriculture")
    assert len([r for r in book["调查记录"][1:] if r[0] != "合计"]) > len(_table(book, "物种汇总"))
    assert _total_row(book, "调查记录") is None


def test_a_township_export_counts_that_townships_control_and_re_inspections(data: dict[str, Any]) -> None:
    """Filtered to one township, the control and re-inspection figures are of that township's sites, as
    the records are (they were the whole bureau's beside one township's records)."""
    d_area, t1_area = _area(data["d1"], data["d2"]), _area(data["t1"])
    book = _export("agriculture", township_code=T2)
    [snail] = _table(book, "物种汇总")
    assert snail["发生点数"] == 1
    assert snail["发生面积（亩）"] == pytest.approx(_mu(d_area), abs=1e-3)
    [town] = _table(book, "乡镇防治汇总")
    assert town["乡镇代码"] == T2
    assert town["防治次数"] == 2  # site D's two treatments; site A's (T1) left out
    assert town["防治面积（亩次）"] == pytest.approx(_mu(t1_area) + 12, abs=1e-3)
    assert town["防治范围（亩）"] == pytest.approx(12, abs=1e-3)
    assert sum(r["防治次数"] for r in _table(book, "防治汇总")) == 2
    assert len(_table(book, "防治记录")) == 2
    assert [r["乡镇代码"] for r in _table(book, "乡镇汇总")] == [T2]
    site_d_due = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(FollowUp)
        .join(Site, Site.id == FollowUp.site_id)
        .join(Township, Township.id == Site.township_id)
        .where(
            FollowUp.organization_id == data["ag_org"],
            FollowUp.due_on >= FROM,
            FollowUp.due_on <= TO,
            FollowUp.status != FollowUpStatus.CANCELLED,
            Township.code == T2,
        )
    )
    assert site_d_due > 0
    assert sum(r["应复查"] for r in _table(book, "复查汇总")) == site_d_due
    assert sum(r["应复查"] for r in _table(book, "乡镇汇总")) == site_d_due


def test_an_organization_filter_narrows_control_as_it_narrows_records(data: dict[str, Any]) -> None:
    """The district's census filtered to the forestry bureau: its one treatment in the period, not both
    bureaus' eight."""
    book = _export("district", organization="forestry")
    [snail] = _table(book, "物种汇总")
    assert (snail["发生点数"], snail["发生面积（亩）"]) == (1, 7.5)
    [hand] = _table(book, "防治汇总")
    assert (hand["防治措施"], hand["防治次数"]) == ("人工捡螺", 1)
    assert len(_table(book, "防治记录")) == 1
