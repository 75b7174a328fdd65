"""Names people type are text on the maps, never markup (docs/contract.md §6: text users typed is
neutralised in every channel that renders markup). Leaflet takes a string given to bindPopup or
bindTooltip as HTML, so a surveyor's display name on the coverage map, a species name on a route's page
and a unit's name on the home page's map of "my units" are handed to it as text nodes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.clock import local_today
from app.district import boundaries
from app.district.models import BoundaryLevel
from app.extensions import db
from app.species.models import Species, SpeciesGroup
from tests.browser.waiting import wait_until
from tests.geo.synthetic import EAST, WEST, feature, geojson, village_grid
from tests.surveys.coverage_fixtures import add_record, add_route, add_unit, make_campaign, village

HOSTILE = "<img src=x data-injected onerror=alert(1)>"  # fits a village's short name (50)
WEST_VILLAGES = ("500155001001", "500155001002", "500155001003", "500155001004")


def _no_markup(page: Any, container: str) -> str:
    """The container's text; no element was made from the names (the page's CSP would stop the handler
    of one, not the element: an image or a link)."""
    assert page.locator(f"{container} [data-injected]").count() == 0
    assert page.locator("img[data-injected]").count() == 0
    return str(page.locator(container).first.inner_text())


def _restore_name(village_id: int, name: str) -> None:
    from app.district.models import Village
    from app.extensions import db

    db.session.execute(sa.update(Village).where(Village.id == village_id).values(short_name=name))
    db.session.commit()


def test_typed_names_are_text_in_map_popups_and_tooltips(
    request: pytest.FixtureRequest, phone: Any, field_user: Any, api_as: Any, make_observation: Any
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
    walker = field_user("surveyor", organization="forestry", display_name=f"王五{HOSTILE}")
    renamed = village(WEST_VILLAGES[0])
    original_name = renamed.short_name
    renamed.short_name = f"一村{HOSTILE}"
    # This test commits for real: the clean-up deletes new rows but does not undo changes to old ones,
    # so the village's name is put back when the test ends (later tests load the district and compare).
    request.addfinalizer(lambda: _restore_name(renamed.id, original_name))
    campaign = make_campaign(supervisor.user, name="标记测试")
    campaign.ends_on = local_today() + timedelta(days=30)  # still running: on the walker's home page
    unit = add_unit(
        campaign, WEST_VILLAGES[0], assignee=walker.user, due_on=local_today() + timedelta(days=7)
    )
    route = add_route(campaign, walker.user, [(107.72, 30.62), (107.73, 30.63), (107.74, 30.62)], unit=unit)
    weed = Species(
        key="markup-test-weed",
        name_zh=f"恶草{HOSTILE}",
        name_sci="Herba hostilis",
        pinyin="ecao",
        group=SpeciesGroup.PLANT,
    )
    db.session.add(weed)
    db.session.flush()
    record = add_record(
        make_observation, api_as(walker.user), lon=107.73, lat=30.63, campaign=campaign, route=route
    )
    record.species_id = weed.id
    campaign_id, route_id = campaign.id, route.id
    db.session.commit()
    db.session.rollback()  # end the read: on SQLite an open transaction here would block the server

    p = phone()
    p.sign_in(supervisor.username)
    # The coverage map: the route's popup names its surveyor.
    p.goto(f"/campaigns/{campaign_id}/coverage")
    wait_until(p.page, "() => document.querySelector('[data-coverage-map]').dataset.loaded === 'yes'")
    on_route = p.page.locator(".leaflet-overlay-pane path[stroke='#1565c0']").first.evaluate(
        "e => { const at = e.getPointAtLength(e.getTotalLength() / 4); const m = e.getScreenCTM();"
        " return [at.x * m.a + m.e, at.y * m.d + m.f]; }"
    )  # a point on the line itself (its box's centre is on the unit's outline under it)
    p.page.mouse.click(*on_route)
    p.page.wait_for_selector(".leaflet-popup-content")
    popup = _no_markup(p.page, ".leaflet-popup-content")
    assert "km" in popup and HOSTILE in popup  # the route's popup, not a unit's

    # The route's page: the record's tooltip names its species.
    p.goto(f"/surveys/routes/{route_id}")
    wait_until(p.page, "() => document.querySelector('[data-route-map]').dataset.loaded === 'yes'")
    p.page.locator(".leaflet-overlay-pane path[fill='#c0392b']").first.hover(force=True)
    p.page.wait_for_selector(".leaflet-tooltip")
    assert HOSTILE in _no_markup(p.page, ".leaflet-tooltip")

    # The walker's home page: the map of their units labels each by its name.
    q = phone()
    q.sign_in(walker.username)
    q.page.wait_for_selector("[data-my-units-map] .leaflet-tooltip")
    assert HOSTILE in _no_markup(q.page, "[data-my-units-map] .leaflet-tooltip")
