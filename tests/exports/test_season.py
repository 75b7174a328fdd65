"""A realistic season, built through the API, and every census figure each bureau signs.

Two bureaus and a township station under agriculture record the same sites more than once, both handle
喜旱莲子草 (one site of it is recorded by both), one site has only an absence, some records stay
unreviewed or are rejected, sites are treated more than once and re-inspected. The expected figures are
computed here, in plain Python over what the test sent, from the counting rules in docs/census.md; the
workbook, GET /api/v1/census/summary and the dashboard must all agree with them, for each bureau and for
the district.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 -- tests open the workbooks the app writes
import pytest
from flask import Flask

from app.clock import local_today, local_zone
from app.exports import jobs as export_jobs
from app.extensions import db
from tests.conftest import PADDY

pytestmark = [
    pytest.mark.real_commits,
    pytest.mark.usefixtures("storage_dir"),
]  # the export job writes progress on its own connection

MU = 666.67  # m² per 亩, as the workbook converts
SNAIL = "pomacea-canaliculata"  # 福寿螺
WEED = "alternanthera-philoxeroides"  # 喜旱莲子草, handled by both bureaus
T1, T2, T3 = "500155001", "500155002", "500155003"


def _at(location: int) -> tuple[float, float]:
    """Sites ~220 m apart: far more than the joining radius, so each location is one site."""
    return PADDY[0] + 0.002 * location, PADDY[1]


def _days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@dataclass
class Record:
    org: str  # the organization that recorded it
    species: str
    location: int
    township: str
    area_m2: float | None
    observed_at: datetime
    status: str = "submitted"
    detected: bool = True
    severity: int | None = None


@dataclass
class Operation:
    org: str
    species: str
    location: int
    township: str
    method: str
    area_m2: float
    labour: float
    cost: float
    follow_ups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Season:
    records: list[Record]
    operations: list[Operation]
    units: dict[str, set[str]]  # census → the organizations it covers
    names: dict[str, str]  # species key → Chinese name
    categories: dict[str, list[str]]  # species key → its census categories, as the registry gives them
    townships: dict[str, str]  # code → name
    methods: dict[str, str]  # code → Chinese name
    clients: dict[str, Any]
    period: tuple[date, date]


# ---------------------------------------------------------------------------------------------
# Building the season through the API


@pytest.fixture
def season(api_as: Any, make_user: Any, species_id: Any, observation_payload: Any) -> Season:
    admin = api_as("admin")
    created = admin.post(
        "/api/v1/organizations",
        json={
            "code": "lishan-station",
            "name": "梁山街道农技站",
            "kind": "township_station",
            "parent": "agriculture",
        },
    )
    assert created.status_code == 201, created.get_json()
    surveyors = {
        "agriculture": api_as(make_user("surveyor", "agriculture", display_name="农委调查员")),
        "lishan-station": api_as(make_user("surveyor", "lishan-station", display_name="农技站调查员")),
        "forestry": api_as(make_user("surveyor", "forestry", display_name="林业调查员")),
    }
    clients = {
        "admin": admin,
        "agriculture": api_as(make_user("bureau_admin", "agriculture")),
        "forestry": api_as(make_user("bureau_admin", "forestry")),
        "agriculture_supervisor": make_user("supervisor", "agriculture"),
    }
    db.session.commit()

    records: list[Record] = []

    def record(rec: Record) -> dict[str, Any]:
        lat, lon = _at(rec.location)
        metrics: dict[str, Any] = (
            {"density_per_m2": 8.0, "egg_masses_per_m2": 2.0}
            if rec.species == SNAIL
            else {"density_per_m2": None, "egg_masses_per_m2": None, "cover_pct": 40.0}
        )
        if not rec.detected:
            metrics = {"density_per_m2": None, "egg_masses_per_m2": None}
        body = observation_payload(
            species_id=species_id(rec.species),
            observed_at=rec.observed_at.isoformat(),
            latitude=lat,
            longitude=lon,
            township_code=rec.township,
            area_m2=rec.area_m2,
            detected=rec.detected,
            severity=rec.severity,
            **metrics,
        )
        response = surveyors[rec.org].post("/api/v1/observations", json=body)
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        if rec.status != "submitted":
            review = {"decision": rec.status, "comment": "季节测试"}
            reviewed = admin.post(f"/api/v1/observations/{created['id']}/review", json=review)
            assert reviewed.status_code == 200, reviewed.get_json()
        records.append(rec)
        return created  # type: ignore[no-any-return]

    R = Record
    sites: dict[int, int] = {}  # location → site id
    for rec in [
        R("agriculture", SNAIL, 1, T1, 2000, _days_ago(40), "verified", severity=2),
        R("agriculture", SNAIL, 1, T1, 3000, _days_ago(20), "verified", severity=4),  # a revisit
        R("agriculture", SNAIL, 2, T2, 1000, _days_ago(30), "verified", severity=3),
        R("agriculture", SNAIL, 3, T1, 5000, _days_ago(10)),  # not reviewed yet
        R("agriculture", SNAIL, 4, T2, None, _days_ago(15), "verified", detected=False),  # absence only
        R("agriculture", WEED, 5, T1, 4000, _days_ago(25), "verified", severity=2),
        R("lishan-station", SNAIL, 6, T3, 1500, _days_ago(35), "verified", severity=3),
        R("lishan-station", SNAIL, 6, T3, 1200, _days_ago(5), "verified", severity=2),  # a revisit
        R("forestry", WEED, 5, T1, 6000, _days_ago(12), "verified", severity=5),  # agriculture's site too
        R("forestry", WEED, 7, T2, 2500, _days_ago(18), "verified", severity=1),
        R("forestry", WEED, 7, T2, 9000, _days_ago(8), "rejected", severity=5),
        R("forestry", SNAIL, 8, T3, 800, _days_ago(22), "verified", severity=2),
    ]:
        created = record(rec)
        assert sites.setdefault(rec.location, created["site_id"]) == created["site_id"]
    assert len(set(sites.values())) == len(sites)  # one site per location, shared across bureaus

    operations: list[Operation] = []
    details = {
        "chemical": {"product": "四聚乙醛", "registration_no": "PD20101234", "dose_g_per_mu": 500},
        "hand_collection": {"kg_removed": 12.5},
        "manual_removal": {"fresh_weight_kg": 80},
    }
    Op = Operation
    for op, days in [
        (Op("agriculture", SNAIL, 1, T1, "chemical", 2000, 1.5, 300), 15),
        (Op("agriculture", SNAIL, 1, T1, "hand_collection", 3000, 2.0, 200), 10),
        (Op("agriculture", SNAIL, 2, T2, "chemical", 1000, 1.0, 150), 9),
        (Op("lishan-station", SNAIL, 6, T3, "hand_collection", 1500, 3.0, 100), 20),
        (Op("forestry", WEED, 5, T1, "manual_removal", 6000, 4.0, 500), 11),
        (Op("forestry", WEED, 5, T1, "manual_removal", 5000, 2.0, 250), 3),
    ]:
        response = surveyors[op.org].post(
            "/api/v1/control-operations",
            json={
                "client_uuid": str(uuid.uuid4()),
                "site_id": sites[op.location],
                "species_id": species_id(op.species),
                "method": op.method,
                "performed_at": _days_ago(days).isoformat(),
                "area_m2": op.area_m2,
                "details": details[op.method],
                "labour_person_days": op.labour,
                "cost_yuan": op.cost,
            },
        )
        assert response.status_code == 201, response.get_json()
        op.follow_ups = response.get_json()["follow_ups"]
        operations.append(op)

    # The first re-inspection after the chemical treatment at site 1: a presence record, then verified.
    first = operations[0].follow_ups[0]
    lat, lon = _at(1)
    observed = _days_ago(14)
    completion = surveyors["agriculture"].post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json={
            "observation": observation_payload(
                species_id=species_id(SNAIL),
                observed_at=observed.isoformat(),
                latitude=lat,
                longitude=lon,
                township_code=T1,
                area_m2=500,
                density_per_m2=2.0,
                egg_masses_per_m2=0.5,
                severity=1,
            )
        },
    )
    assert completion.status_code == 200, completion.get_json()
    done = completion.get_json()
    first.update(status=done["status"])
    reviewed = admin.post(
        f"/api/v1/observations/{done['observation_id']}/review", json={"decision": "verified"}
    )
    assert reviewed.status_code == 200, reviewed.get_json()
    records.append(R("agriculture", SNAIL, 1, T1, 500, observed, "verified", severity=1))

    listed = admin.get("/api/v1/townships?per_page=500").get_json()["items"]
    townships = {t["code"]: t["name_zh"] for t in listed}
    methods = {m["code"]: m["name_zh"] for m in admin.get("/api/v1/control-methods").get_json()}
    names = {}
    categories = {}
    for key in (SNAIL, WEED):
        species = admin.get(f"/api/v1/species/{species_id(key)}").get_json()
        names[key] = species["name_zh"]
        categories[key] = species["census_categories"]
    today = local_today()
    return Season(
        records=records,
        operations=operations,
        units={
            "agriculture": {"agriculture", "lishan-station"},
            "forestry": {"forestry"},
            "district": {"agriculture", "lishan-station", "forestry"},
        },
        names=names,
        categories=categories,
        townships=townships,
        methods=methods,
        clients=clients,
        period=(today - timedelta(days=60), today),
    )


# ---------------------------------------------------------------------------------------------
# The expected figures, from the rules in words (docs/census.md)


def _in_period(moment: datetime, period: tuple[date, date]) -> bool:
    return period[0] <= moment.astimezone(local_zone()).date() <= period[1]


def expected_occurrences(
    season: Season, census: str, statuses: set[str], period: tuple[date, date]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(species, location) → the site's township, area (its latest presence record's) and severity."""
    latest: dict[tuple[str, int], Record] = {}
    worst: dict[tuple[str, int], int] = {}
    for rec in season.records:
        if rec.org not in season.units[census] or rec.status not in statuses or not rec.detected:
            continue
        if not _in_period(rec.observed_at, period):
            continue
        key = (rec.species, rec.location)
        if key not in latest or rec.observed_at > latest[key].observed_at:
            latest[key] = rec
        worst[key] = max(worst.get(key, 0), rec.severity or 0)
    return {
        key: {"township": rec.township, "area_m2": rec.area_m2 or 0.0, "severity": worst[key]}
        for key, rec in latest.items()
    }


def species_figures(sites: dict[Any, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"points": 0, "area_m2": 0.0, "townships": set()}
    )
    for (species, _location), site in sites.items():
        entry = figures[species]
        entry["points"] += 1
        entry["area_m2"] += site["area_m2"]
        entry["townships"].add(site["township"])
    return figures


def species_township_figures(sites: dict[Any, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    figures: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"points": 0, "area_m2": 0.0})
    for (species, _location), site in sites.items():
        entry = figures[(species, site["township"])]
        entry["points"] += 1
        entry["area_m2"] += site["area_m2"]
    return figures


# The census categories each census reports, with the names its 类别汇总 prints (docs/census.md).
CENSUS_CATEGORIES = {
    "agriculture": {
        "ag_plant": "农业外来入侵植物",
        "ag_pest": "农作物外来入侵病虫害",
        "ag_aquatic": "外来入侵水生动物",
    },
    "forestry": {
        "fg_plant": "林草外来入侵植物",
        "fg_pest": "林草外来入侵有害生物",
        "fg_animal": "林草外来入侵动物",
    },
}
CENSUS_CATEGORIES["district"] = {**CENSUS_CATEGORIES["agriculture"], **CENSUS_CATEGORIES["forestry"]}
UNCATEGORISED = "未归入本普查类别"


def category_figures(
    season: Season, census: str, sites: dict[tuple[str, int], dict[str, Any]]
) -> dict[str | None, dict[str, Any]]:
    """Category code (None: species found with none of the census's categories) → the species found in
    it, 发生点数, 发生面积 and the distinct townships. A species in two categories is in both."""
    figures: dict[str | None, dict[str, Any]] = {
        code: {"species": set(), "points": 0, "area_m2": 0.0, "townships": set()}
        for code in CENSUS_CATEGORIES[census]
    }
    for (species, _location), site in sites.items():
        own = [c for c in season.categories[species] if c in CENSUS_CATEGORIES[census]]
        for code in own or [None]:
            entry = figures.setdefault(
                code, {"species": set(), "points": 0, "area_m2": 0.0, "townships": set()}
            )
            entry["species"].add(species)
            entry["points"] += 1
            entry["area_m2"] += site["area_m2"]
            entry["townships"].add(site["township"])
    return figures


def control_figures(season: Season, census: str, key: Any) -> dict[Any, dict[str, Any]]:
    """Control totals grouped by key(op); 防治范围 = per site the largest single treated area, summed."""
    groups: dict[Any, list[Operation]] = defaultdict(list)
    for op in season.operations:
        if op.org in season.units[census]:
            groups[key(op)].append(op)
    figures = {}
    for group, ops in groups.items():
        largest: dict[int, float] = {}
        for op in ops:
            largest[op.location] = max(largest.get(op.location, 0.0), op.area_m2)
        figures[group] = {
            "operations": len(ops),
            "area_m2": sum(op.area_m2 for op in ops),
            "extent_m2": sum(largest.values()),
            "labour": sum(op.labour for op in ops),
            "cost": sum(op.cost for op in ops),
        }
    return figures


def reinspection_figures(season: Season, census: str) -> dict[str, dict[str, int]]:
    today = local_today()
    figures: dict[str, dict[str, int]] = defaultdict(lambda: {"due": 0, "done": 0, "overdue": 0})
    for op in season.operations:
        if op.org not in season.units[census]:
            continue
        for follow_up in op.follow_ups:
            due = date.fromisoformat(follow_up["due_on"])
            if not season.period[0] <= due <= season.period[1] or follow_up["status"] == "cancelled":
                continue
            entry = figures[op.township]
            entry["due"] += 1
            entry["done"] += follow_up["status"] == "done"
            entry["overdue"] += follow_up["status"] == "pending" and due < today
    return figures


# ---------------------------------------------------------------------------------------------
# The workbook


def _export(app: Flask, api: Any, bureau: str, period: tuple[date, date], **extra: Any) -> Any:
    body = {"kind": "census", "bureau": bureau, "from": period[0].isoformat(), "to": period[1].isoformat()}
    started = api.post("/api/v1/exports", json={**body, **extra})
    assert started.status_code == 202, started.get_json()
    with app.app_context():
        export_jobs.run_pending_exports("season-test")
        db.session.remove()
    done = api.get(f"/api/v1/exports/{started.get_json()['id']}").get_json()
    assert done["status"] == "done", done
    response = api.get(done["download_url"])
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    response.close()
    return book


def _table(book: Any, title: str) -> list[dict[str, Any]]:
    """A sheet's data rows as header → value, without the 合计 row."""
    rows = list(book[title].iter_rows(values_only=True))
    headers = rows[0]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:] if row[0] != "合计"]


def _cover(book: Any) -> dict[str, Any]:
    return {row[0]: row[1] for row in book["封面"].iter_rows(min_row=2, values_only=True)}


def _mu(area_m2: float) -> float:
    return round(area_m2 / MU, 2)


def _check_workbook(book: Any, season: Season, census: str, statuses: set[str]) -> None:
    sites = expected_occurrences(season, census, statuses, season.period)
    names = season.names

    species_rows = {row["物种名称"]: row for row in _table(book, "物种汇总")}
    expected = species_figures(sites)
    assert set(species_rows) == {names[s] for s in expected}
    for species, figures in expected.items():
        row = species_rows[names[species]]
        assert row["发生点数"] == figures["points"], (census, species)
        assert round(row["发生面积（亩）"], 2) == _mu(figures["area_m2"]), (census, species)
        assert row["分布乡镇数"] == len(figures["townships"]), (census, species)
        worst = max(site["severity"] for (s, _loc), site in sites.items() if s == species)
        assert row["最高危害程度"] == worst

    by_township = {(row["物种名称"], row["乡镇（街道）"]): row for row in _table(book, "物种乡镇汇总")}
    expected_st = species_township_figures(sites)
    assert set(by_township) == {(names[s], season.townships[t]) for s, t in expected_st}
    for (species, township), figures in expected_st.items():
        row = by_township[(names[species], season.townships[township])]
        assert row["发生点数"] == figures["points"]
        assert round(row["发生面积（亩）"], 2) == _mu(figures["area_m2"])

    # 类别汇总: every category of the census, rolled up from the species; no 合计 row (not additive).
    expected_categories = category_figures(season, census, sites)
    category_rows = {row["普查类别"]: row for row in _table(book, "类别汇总")}
    assert "合计" not in [row[0] for row in book["类别汇总"].iter_rows(values_only=True)]
    category_names = {**CENSUS_CATEGORIES[census], None: UNCATEGORISED}
    assert set(category_rows) == {category_names[code] for code in expected_categories}
    for code, figures in expected_categories.items():
        row = category_rows[category_names[code]]
        assert row["发现物种数"] == len(figures["species"]), (census, code)
        assert set((row["发现物种"] or "").split("、")) - {""} == {names[s] for s in figures["species"]}
        assert row["发生点数"] == figures["points"], (census, code)
        assert round(row["发生面积（亩）"], 2) == _mu(figures["area_m2"]), (census, code)
        assert row["分布乡镇数"] == len(figures["townships"]), (census, code)

    control = control_figures(season, census, lambda op: (names[op.species], season.methods[op.method]))
    control_rows = {(row["物种名称"], row["防治措施"]): row for row in _table(book, "防治汇总")}
    assert set(control_rows) == set(control)
    for group, figures in control.items():
        row = control_rows[group]
        assert row["防治次数"] == figures["operations"], (census, group)
        assert round(row["防治面积（亩次）"], 2) == _mu(figures["area_m2"]), (census, group)
        assert round(row["防治范围（亩）"], 2) == _mu(figures["extent_m2"]), (census, group)
        assert row["用工（人·日）"] == pytest.approx(figures["labour"])
        assert row["费用（元）"] == pytest.approx(figures["cost"])

    control_t = control_figures(season, census, lambda op: op.township)
    township_control_rows = {row["乡镇代码"]: row for row in _table(book, "乡镇防治汇总")}
    assert set(township_control_rows) == set(control_t)
    for township, figures in control_t.items():
        row = township_control_rows[township]
        assert row["防治次数"] == figures["operations"]
        assert round(row["防治面积（亩次）"], 2) == _mu(figures["area_m2"])
        assert round(row["防治范围（亩）"], 2) == _mu(figures["extent_m2"])

    reinspections = reinspection_figures(season, census)
    township_rows = {row["乡镇代码"]: row for row in _table(book, "乡镇汇总")}
    townships = {site["township"] for site in sites.values()} | set(control_t) | set(reinspections)
    assert set(township_rows) == townships
    for township in townships:
        row = township_rows[township]
        here = {key: site for key, site in sites.items() if site["township"] == township}
        assert row["发生点数"] == len(here)
        assert round(row["发生面积（亩）"] or 0, 2) == _mu(sum(site["area_m2"] for site in here.values()))
        assert set((row["发现物种"] or "").split("、")) - {""} == {names[s] for s, _loc in here}
        treated = control_t.get(township, {"area_m2": 0.0})["area_m2"]
        assert round(row["防治面积（亩次）"] or 0, 2) == _mu(treated)
        counts = reinspections.get(township, {"due": 0, "done": 0, "overdue": 0})
        assert (row["应复查"], row["已复查"], row["逾期未复查"]) == (
            counts["due"],
            counts["done"],
            counts["overdue"],
        )

    # The detail sheet holds the census's own records only, of the statuses asked for.
    in_scope = [
        rec
        for rec in season.records
        if rec.org in season.units[census]
        and rec.status in statuses
        and _in_period(rec.observed_at, season.period)
    ]
    assert len(_table(book, "调查记录")) == len(in_scope)


def _figures_of_summary(summary: dict[str, Any], season: Season, census: str, statuses: set[str]) -> None:
    sites = expected_occurrences(season, census, statuses, season.period)
    occurrence = summary["occurrence"]
    assert occurrence["points"] == len(sites)
    assert occurrence["area_m2"] == pytest.approx(sum(site["area_m2"] for site in sites.values()))
    assert occurrence["townships"] == len({site["township"] for site in sites.values()})
    by_species = {item["name_zh"]: item for item in summary["species"]}
    for species, figures in species_figures(sites).items():
        item = by_species[season.names[species]]
        assert (item["points"], item["townships"]) == (figures["points"], len(figures["townships"]))
        assert item["area_m2"] == pytest.approx(figures["area_m2"])
    by_category = {item["category"]: item for item in summary["categories"]}
    expected_categories = category_figures(season, census, sites)
    assert list(by_category) == [*CENSUS_CATEGORIES[census], *([None] if None in expected_categories else [])]
    for code, figures in expected_categories.items():
        item = by_category[code]
        assert item["name_zh"] == ({**CENSUS_CATEGORIES[census], None: None})[code]
        assert {s["name_zh"] for s in item["species"]} == {season.names[s] for s in figures["species"]}
        assert item["species_count"] == len(figures["species"])
        assert (item["points"], item["townships"]) == (figures["points"], len(figures["townships"]))
        assert item["area_m2"] == pytest.approx(figures["area_m2"])
    control = control_figures(season, census, lambda op: None).get(None)
    assert summary["control"]["operations"] == (control["operations"] if control else 0)
    assert summary["control"]["area_m2"] == pytest.approx(control["area_m2"] if control else 0)
    assert summary["control"]["extent_m2"] == pytest.approx(control["extent_m2"] if control else 0)


def test_every_census_figure_of_each_bureau_and_the_district(app: Flask, season: Season, web_as: Any) -> None:
    verified = {"verified"}
    # The scenario does what it should: revisits, a shared site, an absence-only site, unreviewed records.
    district = expected_occurrences(season, "district", verified, season.period)
    visits = [r for r in season.records if r.status == "verified" and r.detected]
    assert len(district) < len(visits)
    assert (WEED, 5) in expected_occurrences(season, "agriculture", verified, season.period)
    assert (WEED, 5) in expected_occurrences(season, "forestry", verified, season.period)
    assert (SNAIL, 4) not in district
    # 福寿螺 is in two agriculture categories (and forestry's animals): the category rows overlap.
    assert {"ag_pest", "ag_aquatic", "fg_animal"} <= set(season.categories[SNAIL])
    district_categories = category_figures(season, "district", district)
    assert sum(c["points"] for c in district_categories.values()) > len(district)

    clients = season.clients
    for census, api in (
        ("agriculture", clients["agriculture"]),
        ("forestry", clients["forestry"]),
        ("district", clients["admin"]),
    ):
        book = _export(app, api, census, season.period)
        _check_workbook(book, season, census, verified)
        cover = _cover(book)
        assert cover["审核状态"] == "仅审核通过的调查记录"
        if census == "agriculture":
            assert "梁山街道农技站" in cover["统计范围"]

        query = f"bureau={census}&from={season.period[0]}&to={season.period[1]}"
        summary = clients["admin"].get(f"/api/v1/census/summary?{query}")
        assert summary.status_code == 200, summary.get_json()
        _figures_of_summary(summary.get_json(), season, census, verified)

    # Unreviewed records too, when asked: agriculture's unreviewed site 3 appears.
    both = {"verified", "submitted"}
    book = _export(
        app, clients["agriculture"], "agriculture", season.period, statuses=["verified", "submitted"]
    )
    _check_workbook(book, season, "agriculture", both)
    assert (SNAIL, 3) in expected_occurrences(season, "agriculture", both, season.period)
    assert _cover(book)["审核状态"] == "待审核、审核通过的调查记录"

    # The dashboard counts the year as the workbook does (the agriculture supervisor sees the station's).
    year_start = date(local_today().year, 1, 1)
    sites = expected_occurrences(season, "agriculture", verified, (year_start, local_today()))
    html = web_as(clients["agriculture_supervisor"]).get("/dashboard").get_data(as_text=True)

    def figure(name: str) -> str:
        match = re.search(rf'data-figure="{name}">([^<]*)<', html)
        assert match, name
        return match.group(1)

    assert int(figure("census-points")) == len(sites)
    assert float(figure("census-area").replace(",", "")) == pytest.approx(
        sum(site["area_m2"] for site in sites.values()) / MU, abs=0.01
    )
    assert int(figure("census-townships")) == len({site["township"] for site in sites.values()})
    # Its overdue re-inspections include the station's, as its census does.
    today = local_today()
    overdue = [
        f
        for op in season.operations
        if op.org in season.units["agriculture"]
        for f in op.follow_ups
        if f["status"] == "pending" and date.fromisoformat(f["due_on"]) < today
    ]
    assert any(op.org == "lishan-station" and op.follow_ups for op in season.operations)
    match = re.search(r'data-figure="overdue"[^>]*>(\d+)<', html)
    assert match and int(match.group(1)) == len(overdue)


def test_unknown_statuses_are_refused_naming_statuses(season: Season) -> None:
    api = season.clients["agriculture"]
    refused = api.post(
        "/api/v1/exports", json={"kind": "census", "bureau": "agriculture", "statuses": ["approved"]}
    )
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["statuses"]
    summary = api.get("/api/v1/census/summary?bureau=agriculture&statuses=verified,approved")
    assert summary.status_code == 422 and list(summary.get_json()["errors"]) == ["statuses"]
    assert api.get("/api/v1/census/summary?bureau=nowhere").status_code == 422


# ---------------------------------------------------------------------------------------------
# The workbook as a spreadsheet program sees it

SOFFICE = shutil.which("soffice") or "/usr/bin/soffice"
# A profile of our own (never the user's), told to recalculate every formula of an .xlsx on loading.
_RECALCULATE_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


def _recalculated(data: bytes, tmp_path: Path) -> Any:
    """The workbook after LibreOffice headless opened it, recalculated it and saved it again."""
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_RECALCULATE_ALWAYS)
    source = tmp_path / "census.xlsx"
    source.write_bytes(data)
    out = tmp_path / "recalculated"
    result = subprocess.run(  # noqa: S603 - our own arguments, no shell
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0 and (out / "census.xlsx").exists(), result.stderr + result.stdout
    return openpyxl.load_workbook(out / "census.xlsx", data_only=True)


def test_libreoffice_recalculates_the_totals_to_the_apps_figures_and_keeps_the_print_settings(
    app: Flask, season: Season, tmp_path: Path
) -> None:
    api = season.clients["agriculture"]
    body = {"kind": "census", "bureau": "agriculture", "from": season.period[0].isoformat()}
    started = api.post("/api/v1/exports", json={**body, "to": season.period[1].isoformat()})
    assert started.status_code == 202
    with app.app_context():
        export_jobs.run_pending_exports("season-test")
        db.session.remove()
    done = api.get(f"/api/v1/exports/{started.get_json()['id']}").get_json()
    response = api.get(done["download_url"])
    data = response.data
    response.close()
    written = openpyxl.load_workbook(io.BytesIO(data))
    recalculated = _recalculated(data, tmp_path)

    sites = expected_occurrences(season, "agriculture", {"verified"}, season.period)
    control = control_figures(season, "agriculture", lambda op: None)[None]
    # The app's own figures for the totals, computed here from what the test recorded.
    expected_totals = {
        "物种汇总": {
            "发生点数": len(sites),
            "发生面积（亩）": sum(_mu(s["area_m2"]) for s in sites.values()),
        },
        "防治汇总": {
            "防治次数": control["operations"],
            "防治面积（亩次）": control["area_m2"] / MU,
            "用工（人·日）": control["labour"],
            "费用（元）": control["cost"],
        },
        "乡镇防治汇总": {"防治次数": control["operations"], "防治范围（亩）": control["extent_m2"] / MU},
        "乡镇汇总": {"发生点数": len(sites)},
    }
    checked = 0
    for ws in written.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        headers = rows[0]
        # Print settings: landscape, one page wide, the header row on every page, title and page numbers.
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1, ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert ws.oddHeader.center.text == ws.title and "&P" in ws.oddFooter.center.text, ws.title
        again = recalculated[ws.title]
        assert again.page_setup.orientation == "landscape", ws.title
        if ws.title == "封面" or rows[-1][0] != "合计":
            continue
        values = list(again.iter_rows(values_only=True))
        assert values[-1][0] == "合计"
        for index, formula in enumerate(rows[-1]):
            if not (isinstance(formula, str) and formula.startswith("=SUBTOTAL(109,")):
                continue
            column = [row[index] for row in rows[1:-1]]
            total = values[-1][index]
            assert total == pytest.approx(sum(v for v in column if v is not None), abs=1e-6), (
                ws.title,
                headers[index],
            )
            if headers[index] in expected_totals.get(ws.title, {}):
                assert total == pytest.approx(expected_totals[ws.title][headers[index]], abs=0.011)
                checked += 1
    assert checked == sum(len(v) for v in expected_totals.values())
