"""A campaign's coverage map in Chromium (docs/surveys.md, Coverage): village outlines filled by status,
the route drawn, the legend, and the tables beside it — with made-up boundaries (tests/geo/synthetic.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.clock import local_today
from app.district import boundaries
from app.district.models import BoundaryLevel
from app.extensions import db
from tests.browser.waiting import wait_until
from tests.geo.synthetic import EAST, WEST, feature, geojson, village_grid
from tests.surveys.coverage_fixtures import add_record, add_route, add_unit, make_campaign

WEST_VILLAGES = ("500155001001", "500155001002", "500155001003", "500155001004")
COLOURS = {"covered": "#1f6f43", "in_progress": "#d08c00", "not_started": "#b00020"}


def test_the_coverage_map_colours_units_by_status_and_draws_routes(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any
) -> None:
    boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "t.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    boundaries.load_boundaries(
        geojson(*village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 2, WEST_VILLAGES)),
        "v.geojson",
        level=BoundaryLevel.VILLAGE,
    )
    supervisor = field_user("supervisor", organization="forestry")
    walker = field_user("surveyor", organization="forestry")
    campaign = make_campaign(supervisor.user, name="浏览器普查")
    overdue = local_today() - timedelta(days=1)
    sw, se, nw, ne = (
        add_unit(campaign, code, assignee=walker.user, due_on=overdue) for code in WEST_VILLAGES
    )
    add_unit(campaign, "500155002", assignee=walker.user)  # nothing there: not started
    add_route(campaign, walker.user, [(107.72, 30.62), (107.76, 30.63), (107.78, 30.62)], unit=sw)
    add_record(make_observation, api_as(walker.user), lon=107.72, lat=30.68, campaign=campaign)
    campaign_id = campaign.id
    db.session.commit()
    db.session.rollback()  # end the read: on SQLite an open transaction here would block the server

    p = phone()
    p.sign_in(supervisor.username)
    p.goto(f"/campaigns/{campaign_id}/coverage")
    wait_until(p.page, "() => document.querySelector('[data-coverage-map]').dataset.loaded === 'yes'")
    element = p.page.locator("[data-coverage-map]")
    assert element.get_attribute("data-units") == "5"
    assert element.get_attribute("data-routes") == "1"
    assert element.get_attribute("data-records") == "1"
    fills = p.page.locator(".leaflet-overlay-pane path").evaluate_all(
        "els => els.map(e => e.getAttribute('fill')).filter(f => f && f !== 'none' && f !== '#333')"
    )
    assert p.page.locator(".leaflet-overlay-pane path[fill='#333']").count() == 1  # the record
    # SW, SE (the route) and NW (the record) covered; NE in progress (its township has work); the east
    # township not started.
    assert sorted(fills) == sorted(
        [COLOURS["covered"]] * 3 + [COLOURS["in_progress"], COLOURS["not_started"]]
    )
    # The route: one line in the route's colour, unfilled.
    strokes = p.page.locator(".leaflet-overlay-pane path[fill='none']").evaluate_all(
        "els => els.map(e => e.getAttribute('stroke'))"
    )
    assert strokes == ["#1565c0"]
    # Overdue and not covered: NE's outline is dashed.
    dashed = p.page.locator(".leaflet-overlay-pane path[stroke-dasharray]").count()
    assert dashed == 1
    legend = p.page.locator("[data-map-legend]").inner_text()
    for label in ("已覆盖", "进行中", "未开始", "踏查路线"):
        assert label in legend
    summary = p.page.locator("[data-coverage-summary]").inner_text()
    assert "已覆盖 3 / 5" in summary
    rows = p.page.locator("[data-coverage-units] tr[data-status]").evaluate_all(
        "els => Object.fromEntries(els.map(e => [e.dataset.unit, e.dataset.status]))"
    )
    assert rows == {
        sw.unit_code: "covered",
        se.unit_code: "covered",
        nw.unit_code: "covered",
        ne.unit_code: "in_progress",
        "500155002": "not_started",
    }
    p.screenshot("campaign-coverage-map")
