"""What a township station's staff see of their bureau's campaigns (docs/surveys.md, Campaigns: "A
township station"): the station reports to the bureau (docs/contract.md §2 Organization), its staff take
part in the bureau's campaigns, are assigned units, walk routes; its supervisor's dashboard shows the
bureau's running campaigns. A route's points stay its bureau's: the station sees other routes' figures
on the campaign page, not a link to their points."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind
from app.extensions import db
from tests.surveys.routes_fixtures import campaign_for, make_campaign, route_body, walk

__all__ = ["campaign_for"]


def _station() -> Organization:
    forestry = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    station = Organization(
        code="lp-st", name="礼让林业站", kind=OrganizationKind.TOWNSHIP_STATION, parent=forestry
    )
    db.session.add(station)
    db.session.flush()
    return station


def test_a_station_sees_its_bureaus_campaigns(
    api_as: Any, web_as: Any, make_user: Any, species_id: Any
) -> None:
    _station()
    technician = make_user("surveyor", "lp-st")
    planner = make_user("supervisor", "forestry")
    campaign = make_campaign(planner, "forestry", (species_id("pomacea-canaliculata"),), name="林业局 普查")
    campaign.units[0].assignee_id = technician.id  # the township, the station's technician's
    db.session.commit()

    # The bureau's surveyor walks a route first: the station sees its figures, not its points.
    bureau_api = api_as(planner)
    bureau_route = bureau_api.post("/api/v1/routes", json=route_body(campaign, walk(10))).get_json()

    tech_api = api_as(technician)
    mine = tech_api.get("/api/v1/me/survey-units").get_json()
    assert [u["campaign_id"] for u in mine["items"]] == [campaign.id]
    response = tech_api.post("/api/v1/routes", json=route_body(campaign, walk(10)))
    assert response.status_code == 201, response.get_json()
    own_route = response.get_json()

    web = web_as(technician)
    home = web.get("/").get_data(as_text=True)
    assert f"/campaigns/{campaign.id}" in home  # my survey units
    assert "林业局 普查" in web.get("/surveys/routes/new").get_data(as_text=True)
    page = web.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'data-walk-campaign="{campaign.id}"' in page
    assert "data-mine" in page
    assert f'href="/surveys/routes/{own_route["id"]}"' in page
    assert f'data-campaign-route="{bureau_route["id"]}"' in page
    assert f'href="/surveys/routes/{bureau_route["id"]}"' not in page  # its bureau's: 403 for a station
    assert web.get(f"/surveys/routes/{bureau_route['id']}").status_code == 403

    # The station's supervisor watches the bureau's campaign on the station's dashboard.
    station_boss = web_as("supervisor", "lp-st")
    dashboard = station_boss.get("/dashboard").get_data(as_text=True)
    assert f'data-campaign-progress-of="{campaign.id}"' in dashboard
    # The bureau's own dashboard has it too; another bureau's does not.
    assert f'data-campaign-progress-of="{campaign.id}"' in web_as("supervisor", "forestry").get(
        "/dashboard"
    ).get_data(as_text=True)
    assert f'data-campaign-progress-of="{campaign.id}"' not in web_as("supervisor", "agriculture").get(
        "/dashboard"
    ).get_data(as_text=True)


def test_another_bureaus_staff_read_a_campaign_but_are_not_offered_to_walk_it(
    web_as: Any, make_user: Any, species_id: Any
) -> None:
    planner = make_user("supervisor", "forestry")
    campaign = make_campaign(planner, "forestry", (species_id("pomacea-canaliculata"),))
    db.session.commit()
    page = web_as("surveyor", "agriculture").get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    assert "data-walk-campaign" not in page.get_data(as_text=True)
