"""A survey season end to end in real Chromium (issue 19; docs/surveys.md, docs/census.md "Survey campaigns").

A forestry supervisor plans a campaign at the desk: two villages of 梁山街道 for one surveyor, the township
双桂街道 for another, two target species. The first surveyor, on a phone, sees "my survey units", walks
village A with scripted GPS fixes, records 福寿螺 on the way, stops and confirms 喜旱莲子草 absent in one
step; then walks village B with no signal, records 喜旱莲子草 there and confirms 福寿螺 absent, and
everything is sent once the signal returns (and again, by hand: nothing is stored twice). A plot of five
quadrats is laid at the site found. The campaign's coverage and its census workbook (踏查记录, 样地调查)
are checked against figures computed here from the rows in the database and the points scripted.

Boundaries are made-up squares (tests/geo/synthetic.py), so coverage is judged by polygon: the walks must
really lie inside their villages.
"""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl  # noqa: TID251 -- the test reads the workbook it asked for
import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect
from pyproj import Geod

from app.clock import local_today
from app.district import boundaries
from app.district.models import BoundaryLevel, Village
from app.exports import jobs as export_jobs
from app.extensions import db
from app.observations.models import Observation
from app.surveys.models import Campaign, Plot, Route
from tests.browser.test_accessibility import DESK
from tests.browser.test_capture import SENDING
from tests.browser.waiting import wait_until
from tests.geo.synthetic import EAST, WEST, feature, geojson, village_grid

SNAIL = "pomacea-canaliculata"  # 福寿螺
WEED = "alternanthera-philoxeroides"  # 喜旱莲子草
NAMES = {SNAIL: "福寿螺", WEED: "喜旱莲子草"}
TOWNSHIP = "500155001"  # 梁山街道: the square 107.70–107.80 E, 30.60–30.70 N
OTHER_TOWNSHIP = "500155002"  # 双桂街道: the square east of it
# 梁山街道's villages as a 2 × 2 grid from the south-west (real codes, made-up squares).
VILLAGES = ("500155001001", "500155001002", "500155001003", "500155001004")
UNIT_A, UNIT_B = VILLAGES[0], VILLAGES[1]  # SW 107.70–107.75 E, SE 107.75–107.80 E; both 30.60–30.65 N
SQUARES = {
    UNIT_A: (107.70, 30.60, 107.75, 30.65),
    UNIT_B: (107.75, 30.60, 107.80, 30.65),
    OTHER_TOWNSHIP: (107.80, 30.60, 107.90, 30.70),
}


def _path(lat: float, lon: float, n: int) -> list[tuple[float, float]]:
    """n fixes walking north-east from (lat, lon), about 30 m apart, well inside one village square."""
    return [(lat + i * 0.0002, lon + i * 0.0002 + (0.0001 if i % 2 else 0.0)) for i in range(n)]


PATH_A = _path(30.62, 107.72, 6)
PATH_B = _path(30.63, 107.77, 5)
GEOD = Geod(ellps="WGS84")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _inside(code: str, lat: float, lon: float) -> bool:
    x0, y0, x1, y1 = SQUARES[code]
    return x0 < lon < x1 and y0 < lat < y1


def _geodesic_m(path: list[tuple[float, float]]) -> float:
    return float(GEOD.line_length([lon for _lat, lon in path], [lat for lat, _lon in path]))


@pytest.fixture
def season(field_user: Any) -> Any:
    """Boundaries loaded, a supervisor, two surveyors and a bureau admin of forestry."""
    boundaries.load_boundaries(
        geojson(feature(TOWNSHIP, WEST), feature(OTHER_TOWNSHIP, EAST)),
        "townships.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    boundaries.load_boundaries(
        geojson(*village_grid(TOWNSHIP, 107.70, 30.60, 107.80, 30.70, 2, VILLAGES)),
        "villages.geojson",
        level=BoundaryLevel.VILLAGE,
    )
    db.session.commit()
    db.session.rollback()

    return SimpleNamespace(
        supervisor=field_user("supervisor", "forestry"),
        walker=field_user("surveyor", "forestry"),
        other=field_user("surveyor", "forestry"),
        admin=field_user("bureau_admin", "forestry"),
    )


# ---------------------------------------------------------------------------------------------------------
# The phone


def _points(p: Any) -> int:
    return int(p.page.locator("[data-route-app]").get_attribute("data-points") or 0)


def _points_at_least(p: Any, n: int) -> None:
    wait_until(p.page, f"() => Number(document.querySelector('[data-route-app]').dataset.points) >= {n}")


def _move(p: Any, lat: float, lon: float) -> None:
    p.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 5})


def _walk(p: Any, fixes: list[tuple[float, float]]) -> None:
    for lat, lon in fixes:
        before = _points(p)
        _move(p, lat, lon)
        _points_at_least(p, before + 1)


def _start_route(p: Any, campaign_id: int, unit_id: int, first: tuple[float, float]) -> None:
    _move(p, *first)
    p.goto("/surveys/routes/new")
    p.page.wait_for_selector("[data-route-app][data-ready]")
    p.page.select_option("[data-route-campaign]", str(campaign_id))
    p.page.select_option("[data-route-unit]", str(unit_id))
    p.page.click("[data-route-start]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "running")
    _points_at_least(p, 1)


def _back_to_route(p: Any) -> None:
    p.goto("/surveys/routes/new")
    p.page.wait_for_selector("[data-route-app][data-ready]")
    expect(p.page.locator("[data-route-app]")).to_have_attribute("data-phase", "running")


def _record(p: Any, search: str, name: str, figures: dict[str, str]) -> None:
    """A finding along the running route: one species present; the campaign's other target left alone."""
    p.page.click("[data-route-record]")
    p.page.wait_for_selector("form[data-ready]")
    p.page.fill("[data-species-search]", search)
    p.page.locator("[data-species-option]", has_text=name).first.click()
    p.page.wait_for_selector('form[data-gps="good"]')
    for field, value in figures.items():
        p.page.fill(f'input[name="{field}"]', value)
    p.page.click('button[type="submit"]')
    expect(p.page.locator("[data-form-result]")).to_contain_text("已保存")  # in the outbox, or sent


def _stop_confirming_absent(p: Any, absent_id: int) -> None:
    p.page.click("[data-route-stop]")
    boxes = p.page.locator("[data-absent-species]")
    expect(boxes).to_have_count(1)  # the target found along the route is not offered
    expect(boxes).to_be_checked()
    assert boxes.get_attribute("value") == str(absent_id)
    p.page.click("[data-route-finish]")
    expect(p.page.locator("[data-route-done]")).to_be_visible()


def _send(p: Any) -> None:
    p.goto("/")
    p.app_ready()
    p.page.click("[data-sync-now]")
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])", timeout=SENDING)


# ---------------------------------------------------------------------------------------------------------
# The database, read in short transactions (on SQLite an open one would block the server)


def _read(fn: Any) -> Any:
    db.session.rollback()
    try:
        return fn()
    finally:
        db.session.rollback()


def _routes(user_id: int) -> list[dict[str, Any]]:
    return _read(
        lambda: [
            {
                "id": r.id,
                "client_uuid": r.client_uuid,
                "unit_id": r.unit_id,
                "campaign_id": r.campaign_id,
                "points": [(pt["lat"], pt["lon"]) for pt in r.points],
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "length_m": r.length_m,
            }
            for r in db.session.scalars(
                sa.select(Route).where(Route.surveyor_id == user_id).order_by(Route.id)
            )
        ]
    )


def _records(user_id: int) -> list[dict[str, Any]]:
    return _read(
        lambda: [
            {
                "id": o.id,
                "client_uuid": o.client_uuid,
                "species_id": o.species_id,
                "detected": o.detected,
                "route_uuid": o.route_uuid,
                "campaign_id": o.campaign_id,
                "site_id": o.site_id,
                "lat": o.latitude,
                "lon": o.longitude,
            }
            for o in db.session.scalars(
                sa.select(Observation).where(Observation.surveyor_id == user_id).order_by(Observation.id)
            )
        ]
    )


def _table(book: Any, title: str) -> list[dict[str, Any]]:
    rows = list(book[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[0] != "合计"]


# Five 1 m² quadrats of the plot: what each species measured there.
QUADRATS: list[dict[str, dict[str, float]]] = [
    {SNAIL: {"density_per_m2": 12, "count": 12}, WEED: {"cover_pct": 30, "height_cm": 25}},
    {SNAIL: {"density_per_m2": 8, "count": 8}},
    {WEED: {"cover_pct": 50, "height_cm": 35}},
    {SNAIL: {"density_per_m2": 4, "count": 4}, WEED: {"cover_pct": 5}},
    {SNAIL: {"density_per_m2": 6, "count": 6}, WEED: {"cover_pct": 10, "height_cm": 20}},
]


def test_a_survey_season_planned_walked_plotted_covered_and_exported(
    app: Flask, phone: Any, season: Any, api_as: Any, species_id: Any
) -> None:
    snail, weed = species_id(SNAIL), species_id(WEED)
    today = local_today()

    # 1. The plan, at the desk.
    desk = phone(**DESK)
    desk.sign_in(season.supervisor.username)
    desk.goto("/campaigns/new")
    desk.page.wait_for_selector("[data-campaign-form]")
    desk.page.fill('input[name="name"]', "梁山街道 2026 普查")
    desk.page.select_option('select[name="kind"]', "census")
    desk.page.fill('input[name="starts_on"]', today.isoformat())
    desk.page.fill('input[name="ends_on"]', (today + timedelta(days=30)).isoformat())
    for name in NAMES.values():
        desk.page.fill("[data-species-search]", name)
        desk.page.locator("[data-species-results] button", has_text=name).first.click()
    expect(desk.page.locator('[data-species-chosen] input[name="species_id"]')).to_have_count(2)
    due = (today + timedelta(days=10)).isoformat()
    township = desk.page.locator(f'[data-township="{TOWNSHIP}"]')
    township.locator("summary").click()
    township.locator(f'input[value="{UNIT_A}"]').check()
    township.locator(f'input[value="{UNIT_B}"]').check()
    desk.page.select_option('select[name="pick_assignee_id"]', str(season.walker.id))
    desk.page.fill('input[name="pick_due_on"]', due)
    desk.page.click("[data-add-units]")
    expect(desk.page.locator("[data-unit-row]")).to_have_count(2)
    desk.page.locator(f'[data-township="{OTHER_TOWNSHIP}"] input[value="{OTHER_TOWNSHIP}"]').check()
    desk.page.select_option('select[name="pick_assignee_id"]', str(season.other.id))
    desk.page.fill('input[name="pick_due_on"]', due)
    desk.page.click("[data-add-units]")
    expect(desk.page.locator("[data-unit-row]")).to_have_count(3)
    desk.page.click("[data-save]")
    desk.page.wait_for_selector("[data-campaign-units]")
    expect(desk.page.locator("[data-campaign-units] tr[data-unit]")).to_have_count(3)

    def plan() -> Any:
        campaign = db.session.scalars(sa.select(Campaign).where(Campaign.name == "梁山街道 2026 普查")).one()
        return (
            campaign.id,
            {s.id for s in campaign.species},
            {u.unit_code: (u.id, u.assignee_id, u.due_on and u.due_on.isoformat()) for u in campaign.units},
        )

    campaign_id, targets, units = _read(plan)
    assert targets == {snail, weed}
    assert {code: rest for code, (_id, *rest) in units.items()} == {
        UNIT_A: [season.walker.id, due],
        UNIT_B: [season.walker.id, due],
        OTHER_TOWNSHIP: [season.other.id, due],
    }
    unit_a, unit_b = units[UNIT_A][0], units[UNIT_B][0]

    # 2. The surveyor's phone: my survey units, saved for offline use.
    p = phone()
    sent: list[tuple[str, str]] = []  # every route and record the phone posted, as it posted them

    def posted(request: Any) -> None:
        url = request.url.split("?")[0].removeprefix(p.base_url)
        if request.method == "POST" and url in ("/api/v1/routes", "/api/v1/observations"):
            sent.append((url, request.post_data or ""))

    p.context.on("request", posted)
    p.sign_in(season.walker.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    expect(p.page.locator("[data-my-survey-units] a")).to_have_count(2)
    walking_from = datetime.now(UTC)

    # Village A with signal: 福寿螺 found half way, 喜旱莲子草 confirmed absent at the end.
    _start_route(p, campaign_id, unit_a, PATH_A[0])
    _walk(p, PATH_A[1:4])
    _record(p, "福寿螺", NAMES[SNAIL], {"density_per_m2": "7"})
    _back_to_route(p)
    _walk(p, PATH_A[4:])
    assert _points(p) == len(PATH_A)
    _stop_confirming_absent(p, weed)
    _send(p)
    assert len(_routes(season.walker.id)) == 1

    # Village B with no signal: 喜旱莲子草 found, 福寿螺 confirmed absent; nothing reaches the server.
    p.context.set_offline(True)
    _start_route(p, campaign_id, unit_b, PATH_B[0])
    _walk(p, PATH_B[1:3])
    _record(p, "喜旱莲子草", NAMES[WEED], {"cover_pct": "20"})
    _back_to_route(p)
    _walk(p, PATH_B[3:])
    assert _points(p) == len(PATH_B)
    _stop_confirming_absent(p, snail)
    assert len(_routes(season.walker.id)) == 1
    p.context.set_offline(False)
    _send(p)
    walked_until = datetime.now(UTC)

    routes = _routes(season.walker.id)
    records = _records(season.walker.id)
    assert len(routes) == 2 and len({r["client_uuid"] for r in routes}) == 2
    by_unit = {r["unit_id"]: r for r in routes}
    assert set(by_unit) == {unit_a, unit_b}
    assert all(r["campaign_id"] == campaign_id for r in routes)
    for unit_id, path in ((unit_a, PATH_A), (unit_b, PATH_B)):
        assert by_unit[unit_id]["points"] == [pytest.approx(fix, abs=1e-9) for fix in path]
    # One record per species per route, each belonging to its route (and the campaign).
    assert len({r["client_uuid"] for r in records}) == len(records) == 4
    assert all(r["campaign_id"] == campaign_id for r in records)
    along = {
        unit_id: {
            (r["species_id"], r["detected"]) for r in records if r["route_uuid"] == route["client_uuid"]
        }
        for unit_id, route in by_unit.items()
    }
    assert along == {unit_a: {(snail, True), (weed, False)}, unit_b: {(weed, True), (snail, False)}}
    for unit_id, code in ((unit_a, UNIT_A), (unit_b, UNIT_B)):
        mine = [r for r in records if r["route_uuid"] == by_unit[unit_id]["client_uuid"]]
        assert all(_inside(code, r["lat"], r["lon"]) for r in mine)

    # Sent again (a phone that never heard the answers would): the same route, the same records.
    replay = api_as(season.walker.user)
    bodies = {(path, json.loads(body)["client_uuid"]): body for path, body in sent if body}
    assert Counter(url for url, _uuid in bodies) == {"/api/v1/routes": 2, "/api/v1/observations": 4}
    for (url, _uuid), body in bodies.items():
        again = replay.post(url, data=body, content_type="application/json")
        assert again.status_code == 200, (url, again.get_json())
    db.session.commit()
    assert _routes(season.walker.id) == routes
    assert _records(season.walker.id) == records

    # 3. A plot of five quadrats at the site where 福寿螺 was found.
    [found] = [r for r in records if r["species_id"] == snail and r["detected"]]
    plot_body = {
        "client_uuid": str(uuid.uuid4()),
        "site_id": found["site_id"],
        "campaign_id": campaign_id,
        "surveyed_at": datetime.now(UTC).isoformat(),
        "shape": "square",
        "length_m": 10,
        "habitat": "paddy",
        "quadrats": [
            {
                "number": i,
                "size_m2": 1.0,
                "records": [{"species_id": species_id(key), **figures} for key, figures in measured.items()],
            }
            for i, measured in enumerate(QUADRATS, start=1)
        ],
    }
    laid = replay.post("/api/v1/plots", json=plot_body)
    assert laid.status_code == 201, laid.get_json()
    db.session.commit()
    plot_id = laid.get_json()["id"]

    # 4. Coverage, against the rows: a unit is covered when a route or record of the campaign lies in it.
    def placed() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        routes = [
            {
                "id": r.id,
                "points": [(pt["lat"], pt["lon"]) for pt in r.points],
                "length_m": r.length_m,
                "at": r.ended_at,
            }
            for r in db.session.scalars(sa.select(Route).where(Route.campaign_id == campaign_id))
        ]
        records = [
            {"lat": o.latitude, "lon": o.longitude, "at": o.observed_at}
            for o in db.session.scalars(sa.select(Observation).where(Observation.campaign_id == campaign_id))
        ]
        return routes, records

    campaign_routes, campaign_records = _read(placed)
    expected_units: dict[str, dict[str, Any]] = {}
    for code in (UNIT_A, UNIT_B, OTHER_TOWNSHIP):
        inside_routes = [r for r in campaign_routes if any(_inside(code, *pt) for pt in r["points"])]
        inside_records = [r for r in campaign_records if _inside(code, r["lat"], r["lon"])]
        expected_units[code] = {
            "status": "covered" if inside_routes or inside_records else "not_started",
            "routes": len(inside_routes),
            "records": len(inside_records),
            "route_length_m": pytest.approx(sum(r["length_m"] for r in inside_routes)),
            "last_activity_at": max((r["at"] for r in inside_routes + inside_records), default=None),
        }
    assert [u["status"] for u in expected_units.values()] == ["covered", "covered", "not_started"]
    supervisor_api = api_as(season.supervisor.user)
    coverage = supervisor_api.get(f"/api/v1/campaigns/{campaign_id}/coverage").get_json()
    got = {
        u["unit_code"]: {
            **{k: u[k] for k in ("status", "routes", "records", "route_length_m")},
            "last_activity_at": u["last_activity_at"] and datetime.fromisoformat(u["last_activity_at"]),
        }
        for u in coverage["units"]
    }
    assert got == expected_units
    assert all(u["by_polygon"] for u in coverage["units"])
    expected_people: dict[int, Counter[str]] = {}
    assignee_of = {UNIT_A: season.walker.id, UNIT_B: season.walker.id, OTHER_TOWNSHIP: season.other.id}
    for code, figures in expected_units.items():
        tally = expected_people.setdefault(assignee_of[code], Counter())
        tally["units"] += 1
        tally[figures["status"]] += 1
    assert {
        g["id"]: {k: g[k] for k in ("units", "covered", "in_progress", "not_started", "covered_pct")}
        for g in coverage["by_assignee"]
    } == {
        person: {
            "units": t["units"],
            "covered": t["covered"],
            "in_progress": t["in_progress"],
            "not_started": t["not_started"],
            "covered_pct": pytest.approx(100 * t["covered"] / t["units"]),
        }
        for person, t in expected_people.items()
    }
    covered = sum(u["status"] == "covered" for u in expected_units.values())
    assert (coverage["summary"]["units"], coverage["summary"]["covered"]) == (3, covered)
    # The desk saved this page when the plan was saved (0 covered). On a busy machine the server may take
    # longer than the service worker waits before it shows a saved copy (one bar, app/templates/offline/
    # sw.js); the server's answer then replaces that copy, so the next visit has it.
    summary = desk.page.locator("[data-coverage-summary]")
    for _visit in range(3):
        desk.goto(f"/campaigns/{campaign_id}")
        if f"已覆盖 {covered} / 3" in summary.inner_text():
            break
    expect(summary).to_contain_text(f"已覆盖 {covered} / 3")
    # The supervisor's dashboard: the campaign's progress, in all, by township and by assignee.
    desk.goto("/dashboard")
    progress = desk.page.locator(f"[data-campaign-progress-of='{campaign_id}']")
    expect(progress.locator("[data-figure='covered']")).to_have_text(f"{covered} / 3")
    by_township: dict[str, Counter[str]] = {}
    for code, figures in expected_units.items():
        tally = by_township.setdefault(code[:9], Counter())
        tally["units"] += 1
        tally["covered"] += figures["status"] == "covered"
    for table, groups in (("township", by_township), ("assignee", expected_people)):
        cells = progress.locator(f"[data-campaign-{table}] tr[data-group]").evaluate_all(
            "rows => Object.fromEntries(rows.map(r => [r.dataset.group,"
            " [...r.querySelectorAll('td.num')].map(td => td.textContent.trim())]))"
        )
        assert cells == {str(k): [str(t["covered"]), str(t["units"])] for k, t in groups.items()}

    # 5. The campaign's census workbook.
    admin = api_as(season.admin.user)
    started = admin.post(
        "/api/v1/exports",
        json={
            "kind": "census",
            "bureau": "forestry",
            "campaign_id": campaign_id,
            "from": (today - timedelta(days=1)).isoformat(),
            "to": today.isoformat(),
            "statuses": ["submitted", "verified"],
        },
    )
    assert started.status_code == 202, started.get_json()
    db.session.commit()
    db.session.rollback()
    with app.app_context():
        export_jobs.run_pending_exports("season-e2e")
        db.session.remove()
    done = admin.get(f"/api/v1/exports/{started.get_json()['id']}").get_json()
    assert done["status"] == "done", done
    response = admin.get(done["download_url"])
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    response.close()

    cover = {row[0]: row[1] for row in book["封面"].iter_rows(min_row=2, values_only=True)}
    assert cover["调查任务"].startswith("梁山街道 2026 普查（普查")
    # The records sheet: the campaign's records, each once.
    assert sorted(row["记录编号"] for row in _table(book, "调查记录")) == sorted(r["id"] for r in records)
    sheet_routes = {row["路线编号"]: row for row in _table(book, "踏查记录")}
    assert set(sheet_routes) == {r["id"] for r in routes}
    for unit_id, code, path, present in ((unit_a, UNIT_A, PATH_A, SNAIL), (unit_b, UNIT_B, PATH_B, WEED)):
        route = by_unit[unit_id]
        row = sheet_routes[route["id"]]
        assert row["单元代码"] == code
        village = _read(
            lambda c=code: db.session.scalars(sa.select(Village.short_name).where(Village.code == c)).one()
        )
        assert row["调查单元"] == "梁山街道" + village
        # Shown in Asia/Shanghai, to the minute at least (the cell's format says which).
        local = [route[k].astimezone(SHANGHAI) for k in ("started_at", "ended_at")]
        assert row["日期"] == datetime.combine(local[0].date(), datetime.min.time())  # a date cell
        for header, when in zip(("开始时间", "结束时间"), local, strict=True):
            assert abs(row[header] - when.replace(tzinfo=None)) < timedelta(seconds=1), (
                header,
                row[header],
                when,
            )
        assert row["调查任务"] == "梁山街道 2026 普查"
        assert row["调查人"] == season.walker.display_name
        # Stored to the decimetre, the sheet gives metres (km to 3 places) and tenths of a minute.
        assert route["length_m"] == pytest.approx(_geodesic_m(path), abs=0.051)
        assert row["路线长度（千米）"] == pytest.approx(_geodesic_m(path) / 1000, abs=0.00056)
        minutes = (route["ended_at"] - route["started_at"]).total_seconds() / 60
        assert row["用时（分钟）"] == pytest.approx(round(minutes, 1), abs=1e-9)
        # The walk's own clock: started and ended while the test walked it (a few seconds, so 0.0 or 0.1).
        slack = timedelta(seconds=1)
        assert walking_from - slack <= route["started_at"] < route["ended_at"] <= walked_until + slack
        mine = [r for r in records if r["route_uuid"] == route["client_uuid"]]
        assert row["记录数"] == len(mine) == 2
        assert row["发现物种"] == NAMES[present]

    plot_rows = {row["物种名称"]: row for row in _table(book, "样地调查") if row["样地编号"] == plot_id}
    assert set(plot_rows) == set(NAMES.values())
    n = len(QUADRATS)
    for key, name in NAMES.items():
        here = [q[key] for q in QUADRATS if key in q]
        row = plot_rows[name]
        assert row["样方数"] == n
        assert row["频度（%）"] == pytest.approx(100 * len(here) / n)
        densities = [f["density_per_m2"] for f in here if "density_per_m2" in f]
        if densities:
            assert row["平均密度（株或头/平方米）"] == pytest.approx(sum(densities) / n)
        covers = [f["cover_pct"] for f in here if "cover_pct" in f]
        if covers:
            assert row["平均盖度（%）"] == pytest.approx(sum(covers) / n)
    # Measured nowhere: no mean (a mean of zeros would say "none").
    assert plot_rows[NAMES[SNAIL]]["平均盖度（%）"] is None
    assert plot_rows[NAMES[WEED]]["平均密度（株或头/平方米）"] is None
    assert _read(lambda: db.session.scalar(sa.select(sa.func.count(Plot.id)).where(Plot.id == plot_id))) == 1
