"""A campaign's coverage map and the routes' own rule (docs/contract.md §1; tests/authorization/rules.py:
a route, a surveyor's track, is read by its bureau's staff). Coverage is read by all staff, but the
route lines and their surveyors' names on its map are only those the caller may read: before, any
signed-in user read every bureau's tracks (to about 5 m) through /campaigns/{id}/coverage/geojson while
GET /routes/{id}/geojson refused them."""

from __future__ import annotations

from typing import Any

from app.accounts.models import Organization, OrganizationKind
from app.extensions import db
from tests.surveys.coverage_fixtures import add_route, add_unit, make_campaign, org_id


def _route_lines(api: Any, campaign_id: int) -> set[int]:
    answer = api.get(f"/api/v1/campaigns/{campaign_id}/coverage/geojson")
    assert answer.status_code == 200
    return {
        f["properties"]["route_id"]
        for f in answer.get_json()["features"]
        if f["properties"]["kind"] == "route"
    }


def test_the_coverage_map_draws_only_the_routes_the_caller_may_read(api_as: Any, make_user: Any) -> None:
    for code in ("lp-station", "lp-farm"):
        db.session.add(
            Organization(
                code=code,
                name=code,
                kind=OrganizationKind.TOWNSHIP_STATION,
                parent=db.session.get(Organization, org_id("forestry")),
            )
        )
    db.session.flush()
    campaign = make_campaign(make_user("supervisor", "forestry"))
    unit = add_unit(campaign, "500155001")
    track = [(107.72, 30.62), (107.74, 30.63), (107.76, 30.62)]
    bureau_route = add_route(campaign, make_user("surveyor", "forestry"), track, unit=unit).id
    station_route = add_route(campaign, make_user("surveyor", "lp-station"), track, unit=unit).id
    db.session.commit()

    every = {bureau_route, station_route}
    assert _route_lines(api_as("supervisor", "forestry"), campaign.id) == every  # a bureau reads its units'
    assert _route_lines(api_as("admin"), campaign.id) == every
    assert _route_lines(api_as("surveyor", "lp-station"), campaign.id) == {station_route}  # its own only
    assert _route_lines(api_as("surveyor", "lp-farm"), campaign.id) == set()  # a sibling unit
    assert _route_lines(api_as("supervisor", "agriculture"), campaign.id) == set()  # another bureau
    # The same as the routes themselves answer.
    other = api_as("supervisor", "agriculture")
    assert other.get(f"/api/v1/routes/{bureau_route}/geojson").status_code == 403
    # The figures still count every route: coverage is everyone's.
    units = other.get(f"/api/v1/campaigns/{campaign.id}/coverage").get_json()["units"]
    assert [u["routes"] for u in units] == [2]
