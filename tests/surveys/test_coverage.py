"""A campaign's coverage (docs/surveys.md, Coverage): each unit's status with and without boundaries, the
tallies per assignee and per township (counted again here from the units' statuses), the map's GeoJSON,
and a statement count that does not grow with the number of units."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.clock import local_today
from app.district import boundaries
from app.district.models import BoundaryLevel
from app.extensions import db
from app.observations.models import ReviewStatus
from app.surveys import coverage, coverage_map, coverage_reading
from tests.geo.synthetic import EAST, WEST, feature, geojson, village_grid
from tests.surveys.coverage_fixtures import add_record, add_route, add_unit, make_campaign

# Real village codes of 梁山街道 500155001 (made-up squares in tests/geo/synthetic.py's WEST square).
WEST_VILLAGES = ("500155001001", "500155001002", "500155001003", "500155001004")


def _statuses(result: coverage.Coverage) -> dict[str, str]:
    return {u.unit_code: u.status.value for u in result.units}


def _expected_tallies(units: list[dict[str, Any]], key: str) -> dict[Any, Counter[str]]:
    """Per group, how many units of each status, and overdue: counted from the per-unit rows."""
    tallies: dict[Any, Counter[str]] = {}
    for unit in units:
        counter = tallies.setdefault(unit[key], Counter())
        counter["units"] += 1
        counter[unit["status"]] += 1
        counter["overdue"] += int(unit["overdue"])
    return tallies


def _check_groups(body: dict[str, Any]) -> None:
    for groups, key in ((body["by_assignee"], "assignee_id"), (body["by_township"], "township_code")):
        expected = _expected_tallies(body["units"], key)
        got = {g["id"] if key == "assignee_id" else g["code"]: g for g in groups}
        assert set(got) == set(expected)
        for group_key, counter in expected.items():
            group = got[group_key]
            for status in ("units", "covered", "in_progress", "not_started", "overdue"):
                assert group[status] == counter[status], (group_key, status)
            assert group["covered_pct"] == round(100 * counter["covered"] / counter["units"], 1)
    summary = body["summary"]
    assert summary["units"] == len(body["units"])
    for status in ("covered", "in_progress", "not_started"):
        assert summary[status] == sum(1 for u in body["units"] if u["status"] == status)


# ---------------------------------------------------------------------------------------------
# Without boundaries: by the records' township and village, and the routes' unit


@pytest.fixture
def people(make_user: Any) -> dict[str, Any]:
    return {
        "admin": make_user("bureau_admin"),
        "a": make_user("surveyor", display_name="甲"),
        "b": make_user("surveyor", display_name="乙"),
    }


def test_without_boundaries_status_by_attribution(
    app: Flask, people: dict[str, Any], api_as: Any, make_observation: Any
) -> None:
    a, b = people["a"], people["b"]
    campaign = make_campaign(people["admin"])
    other = make_campaign(people["admin"], name="另一个")
    today = local_today()
    past, soon = today - timedelta(days=2), today + timedelta(days=5)
    add_unit(campaign, "500155001", assignee=a, due_on=soon)  # township: a record there
    add_unit(campaign, "500155002008", assignee=a, due_on=soon)  # village: a record there
    add_unit(campaign, "500155002009", assignee=b, due_on=past)  # same township: in progress, overdue
    add_unit(campaign, "500155003001", assignee=b, due_on=past)  # only rejected / other's: not started
    walked = add_unit(campaign, "500155004", assignee=b)  # a route started for it
    add_unit(campaign, "500155005", assignee=None)  # a record made along the campaign's route
    api = api_as(a)
    add_record(make_observation, api, lon=107.80, lat=30.67, campaign=campaign, township_code="500155001")
    add_record(make_observation, api, lon=107.81, lat=30.66, campaign=campaign, village_code="500155002008")
    add_record(
        make_observation,
        api,
        lon=107.82,
        lat=30.66,
        campaign=campaign,
        village_code="500155003001",
        status=ReviewStatus.REJECTED,
    )
    add_record(make_observation, api, lon=107.82, lat=30.66, campaign=other, village_code="500155003001")
    route = add_route(campaign, b, [(107.70, 30.60), (107.71, 30.61)], unit=walked)
    add_record(make_observation, api_as(b), lon=107.83, lat=30.64, route=route, township_code="500155005")
    # A route of another campaign with the same surveyor does not count.
    add_route(other, b, [(107.70, 30.60), (107.71, 30.61)], unit=None)

    result = coverage.compute(campaign)
    assert not result.village_polygons and not result.township_polygons
    assert _statuses(result) == {
        "500155001": "covered",
        "500155002008": "covered",
        "500155002009": "in_progress",
        "500155003001": "not_started",
        "500155004": "covered",
        "500155005": "covered",
    }
    overdue = {u.unit_code for u in result.units if u.overdue}
    assert overdue == {"500155002009", "500155003001"}
    units = {u.unit_code: u for u in result.units}
    assert (units["500155004"].routes, units["500155004"].records) == (1, 0)
    assert (units["500155005"].routes, units["500155005"].records) == (0, 1)
    assert not any(u.by_polygon for u in result.units)

    response = api_as("verifier").get(f"/api/v1/campaigns/{campaign.id}/coverage")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    for unit in body["units"]:
        unit["assignee_id"] = unit["assignee_id"]  # None for the unassigned unit: its own group
    _check_groups(body)
    assert body["summary"] == {
        "units": 6,
        "covered": 4,
        "in_progress": 1,
        "not_started": 1,
        "overdue": 2,
        "covered_pct": 66.7,
    }
    assert body["routes"] == 1 and body["records"] == 3  # the rejected one and the other campaign's left out


def test_unknown_campaign_is_404(api_as: Any) -> None:
    response = api_as("surveyor").get("/api/v1/campaigns/987654/coverage")
    assert response.status_code == 404
    assert api_as("surveyor").get("/api/v1/campaigns/987654/coverage/geojson").status_code == 404


# ---------------------------------------------------------------------------------------------
# With boundaries: by polygon


@pytest.fixture
def synthetic_boundaries(app: Flask) -> None:
    boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "townships.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    # 2 × 2 villages in the west square: 001 SW, 002 SE, 003 NW, 004 NE.
    boundaries.load_boundaries(
        geojson(*village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 2, WEST_VILLAGES)),
        "villages.geojson",
        level=BoundaryLevel.VILLAGE,
    )


def test_a_gap_across_a_pause_covers_nothing(synthetic_boundaries: None, people: dict[str, Any]) -> None:
    """A route paused in the SW village and resumed in the east township: the straight line between
    crosses the SE village, but nobody walked there (docs/surveys.md, Pauses and moving time)."""
    a = people["a"]
    campaign = make_campaign(people["admin"])
    sw, se = (add_unit(campaign, code, assignee=a) for code in WEST_VILLAGES[:2])
    east = add_unit(campaign, "500155002", assignee=a)
    track = [(107.72, 30.62), (107.74, 30.62), (107.82, 30.62), (107.84, 30.62)]
    route = add_route(campaign, a, track, unit=sw, gaps=[1])
    result = coverage.compute(campaign)
    statuses = _statuses(result)
    assert statuses[sw.unit_code] == "covered" and statuses[east.unit_code] == "covered"
    assert statuses[se.unit_code] == "in_progress"  # its township has work; the gap is not a walk
    [drawn] = [f for f in coverage_map.geojson(result)["features"] if f["properties"]["kind"] == "route"]
    assert drawn["geometry"]["type"] == "GeometryCollection" and len(drawn["geometry"]["geometries"]) == 2
    # Without the gap the same line covers the SE village.
    route.geometry = {"type": "LineString", "coordinates": [list(c) for c in track]}
    db.session.flush()
    assert _statuses(coverage.compute(campaign))[se.unit_code] == "covered"


def test_with_boundaries_status_by_polygon(
    synthetic_boundaries: None, people: dict[str, Any], api_as: Any, make_observation: Any
) -> None:
    a, b = people["a"], people["b"]
    campaign = make_campaign(people["admin"])
    today = local_today()
    sw, se, nw, ne = (add_unit(campaign, code, assignee=a, due_on=today) for code in WEST_VILLAGES)
    east = add_unit(campaign, "500155002", assignee=b, due_on=today - timedelta(days=1))
    far = add_unit(campaign, "500155003001", assignee=b)  # a village with no polygon: by attribution
    api = api_as(a)
    # A track along the south, from the SW village into the SE one: covers both.
    add_route(campaign, a, [(107.72, 30.62), (107.76, 30.63), (107.78, 30.62)], unit=sw)
    # A record in the NW square whose stored village says NE: the polygon decides (NW covered).
    add_record(
        make_observation,
        api,
        lon=107.72,
        lat=30.68,
        campaign=campaign,
        township_code="500155001",
        village_code=WEST_VILLAGES[3],
    )
    # A route started for the east township, but its track lies in the west: in progress there.
    add_route(campaign, b, [(107.705, 30.605), (107.706, 30.606)], unit=east)
    # A record attributed to the far village (no polygon): covered by attribution. (Its point is in the
    # SW square: with township polygons loaded the district is their union, and it must lie inside.)
    add_record(make_observation, api, lon=107.73, lat=30.61, campaign=campaign, village_code="500155003001")

    result = coverage.compute(campaign)
    assert result.village_polygons and result.township_polygons
    statuses = _statuses(result)
    assert statuses == {
        sw.unit_code: "covered",
        se.unit_code: "covered",
        nw.unit_code: "covered",
        ne.unit_code: "in_progress",  # its township has work, nothing inside it yet
        east.unit_code: "in_progress",  # a route started for it lies outside it
        far.unit_code: "covered",
    }
    units = {u.unit_code: u for u in result.units}
    assert units[sw.unit_code].by_polygon and not units[far.unit_code].by_polygon
    assert units[sw.unit_code].routes == 2  # the south track, and the east route's stray track in SW
    assert units[sw.unit_code].records == 1 and units[far.unit_code].records == 1
    assert units[se.unit_code].routes == 1 and units[nw.unit_code].records == 1
    assert units[ne.unit_code].records == 0
    assert {u.unit_code for u in result.units if u.overdue} == {east.unit_code}

    body = api_as("supervisor").get(f"/api/v1/campaigns/{campaign.id}/coverage").get_json()
    _check_groups(body)

    geo = api_as("supervisor").get(f"/api/v1/campaigns/{campaign.id}/coverage/geojson").get_json()
    kinds = Counter(f["properties"]["kind"] for f in geo["features"])
    assert kinds == {"unit": 6, "route": 2, "record": 2}
    outlines = {f["properties"]["code"]: f for f in geo["features"] if f["properties"]["kind"] == "unit"}
    assert outlines[nw.unit_code]["geometry"]["type"] == "Polygon"
    assert outlines[nw.unit_code]["properties"]["status"] == "covered"
    assert outlines[ne.unit_code]["properties"]["status"] == "in_progress"
    # The far village has no outline: it is drawn by its records' points.
    assert outlines[far.unit_code]["geometry"]["type"] == "MultiPoint"
    assert outlines[far.unit_code]["properties"]["outline"] is False
    route_lines = [f for f in geo["features"] if f["properties"]["kind"] == "route"]
    assert all(f["geometry"]["type"] == "LineString" for f in route_lines)


def test_statements_do_not_grow_with_units(
    synthetic_boundaries: None, people: dict[str, Any], api_as: Any, make_observation: Any, count_queries: Any
) -> None:
    small, large = make_campaign(people["admin"]), make_campaign(people["admin"], name="大")
    add_unit(small, WEST_VILLAGES[0], assignee=people["a"])
    for code in (*WEST_VILLAGES, "500155002", "500155003001", "500155004", "500155005"):
        add_unit(large, code, assignee=people["b"])
    for campaign in (small, large):
        add_route(campaign, people["a"], [(107.72, 30.62), (107.78, 30.62)])
        add_record(make_observation, api_as(people["a"]), lon=107.72, lat=30.68, campaign=campaign)
    coverage.compute(small)  # the locator built once for the process
    counts = []
    for campaign in (small, large):
        with count_queries() as statements:
            coverage.compute(campaign)
        counts.append(len(statements))
    assert counts[0] == counts[1]


# ---------------------------------------------------------------------------------------------
# The page (the partial the campaign page includes)


def test_the_coverage_page_shows_each_unit_and_the_tallies(
    people: dict[str, Any], web_as: Any, api_as: Any, make_observation: Any
) -> None:
    campaign = make_campaign(people["admin"])
    add_unit(campaign, "500155002008", assignee=people["a"])
    add_unit(campaign, "500155002009", assignee=people["b"], due_on=local_today() - timedelta(days=1))
    add_unit(campaign, "500155003001", assignee=people["b"])
    add_record(
        make_observation,
        api_as(people["a"]),
        lon=107.81,
        lat=30.66,
        campaign=campaign,
        village_code="500155002008",
    )
    web = web_as("surveyor")
    response = web.get(f"/campaigns/{campaign.id}/coverage")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = dict(re.findall(r'data-unit="(\d+)" data-status="(\w+)"', html))
    assert rows == {"500155002008": "covered", "500155002009": "in_progress", "500155003001": "not_started"}
    assert f'data-url="/api/v1/campaigns/{campaign.id}/coverage/geojson"' in html
    assert "js/coverage.js" in html
    assert 'data-code="500155002"' in html and 'data-code="500155003"' in html
    assert web.get("/campaigns/987654/coverage").status_code == 404


def test_a_stored_track_is_read_as_its_coordinates() -> None:
    text = '{"type": "LineString", "coordinates": [[107.8, 30.6, 412.0], [107.81, 30.61, 415.5]]}'
    assert coverage_reading.track_coordinates(text).tolist() == [[107.8, 30.6], [107.81, 30.61]]
    two_d = '{"coordinates": [[107.8, 30.6], [107.81, 30.61], [107.82, 30.6]], "type": "LineString"}'
    assert coverage_reading.track_coordinates(two_d).tolist() == [
        [107.8, 30.6],
        [107.81, 30.61],
        [107.82, 30.6],
    ]
    assert coverage_reading.track_coordinates(None) is None
    assert coverage_reading.track_coordinates('{"type": "Point", "coordinates": [107.8, 30.6]}') is None
