"""踏查 routes through the API: stored once per client_uuid, measured, checked point by point; records
made along a route and for a campaign (docs/surveys.md, Routes)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.geo.crs import from_wgs84
from app.observations.models import Observation
from app.surveys.models import Route
from app.surveys.tracks import MAX_POINTS
from tests.conftest import PADDY
from tests.surveys.routes_fixtures import campaign_for, haversine_m, route_body, walk

__all__ = ["campaign_for"]  # the fixture, used by name


def _stored(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST the route, then GET it whole (points, line, records)."""
    response = api.post("/api/v1/routes", json=body)
    assert response.status_code == 201, response.get_json()
    return api.get(f"/api/v1/routes/{response.get_json()['id']}").get_json()  # type: ignore[no-any-return]


def _length(points: list[dict[str, Any]]) -> float:
    return sum(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) for a, b in itertools.pairwise(points))


def _route_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Route)) or 0


def test_route_is_stored_with_its_line_length_and_duration(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(60, step_s=5, step_m=4)
    response = api.post("/api/v1/routes", json=route_body(campaign, points))
    assert response.status_code == 201, response.get_json()
    assert "points" not in response.get_json()  # the phone has them: the answer is the figures
    data = api.get(f"/api/v1/routes/{response.get_json()['id']}").get_json()
    expected = sum(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) for a, b in itertools.pairwise(points))
    assert data["length_m"] == pytest.approx(expected, rel=5e-3)
    assert data["length_m"] == pytest.approx(59 * 4, rel=1e-2)
    assert data["duration_s"] == 59 * 5
    assert data["point_count"] == 60
    assert data["poor_point_count"] == 0
    assert data["geometry"]["type"] == "LineString"
    assert data["geometry"]["coordinates"][0] == [pytest.approx(PADDY[1]), pytest.approx(PADDY[0])]
    assert len(data["geometry"]["coordinates"]) == 60
    assert data["campaign_id"] == campaign.id
    assert data["unit_id"] == campaign.units[0].id
    assert data["surveyor_id"] == api.user.id
    assert data["records"] == []
    assert data["bbox"] == [
        pytest.approx(points[0]["lon"]),
        pytest.approx(points[0]["lat"]),
        pytest.approx(points[-1]["lon"]),
        pytest.approx(points[-1]["lat"]),
    ]
    stored = db.session.get(Route, data["id"])
    assert stored is not None and stored.points[0]["t"].endswith("Z")  # kept in UTC


def test_poor_fixes_are_kept_and_marked_but_not_drawn(api_as: Any, campaign_for: Any, app: Flask) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(20)
    limit = app.config["IAS_GPS_ACCURACY_LIMIT_M"]
    # Fix 10 jumps 500 m east with a poor accuracy: kept, marked, left out of the line and the length.
    points[10] = {**points[10], "lon": points[10]["lon"] + 0.005, "accuracy_m": limit + 1}
    points[11] = {**points[11], "accuracy_m": limit}  # exactly the limit is still good (as for records)
    data = _stored(api, route_body(campaign, points))
    assert data["point_count"] == 20
    assert data["poor_point_count"] == 1
    assert [p.get("poor", False) for p in data["points"]] == [i == 10 for i in range(20)]
    assert len(data["geometry"]["coordinates"]) == 19
    good = [p for i, p in enumerate(points) if i != 10]
    expected = sum(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) for a, b in itertools.pairwise(good))
    assert data["length_m"] == pytest.approx(expected, rel=5e-3)


def test_same_route_again_is_one_route_and_different_content_is_409(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    body = route_body(campaign)
    before = _route_count()
    first = api.post("/api/v1/routes", json=body)
    again = api.post("/api/v1/routes", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _route_count() == before + 1
    clash = api.post("/api/v1/routes", json={**body, "notes": "另一条"})
    assert clash.status_code == 409
    assert "client_uuid" in clash.get_json()["errors"]
    assert _route_count() == before + 1


def test_gcj02_points_are_converted(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(5)
    shifted = [
        {
            **p,
            "lon": from_wgs84(p["lon"], p["lat"], "gcj02")[0],
            "lat": from_wgs84(p["lon"], p["lat"], "gcj02")[1],
        }
        for p in points
    ]
    data = _stored(api, route_body(campaign, shifted, crs="gcj02"))
    assert data["points"][0]["lat"] == pytest.approx(points[0]["lat"], abs=1e-6)
    assert data["points"][0]["lon"] == pytest.approx(points[0]["lon"], abs=1e-6)


def _refused(api: Any, body: dict[str, Any]) -> dict[str, list[str]]:
    before = _route_count()
    response = api.post("/api/v1/routes", json=body)
    assert response.status_code == 422, response.get_json()
    assert _route_count() == before
    return response.get_json()["errors"]  # type: ignore[no-any-return]


def test_point_outside_the_district_is_named(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(30)
    points[17] = {**points[17], "lat": 39.9, "lon": 116.4}  # Beijing
    errors = _refused(api, route_body(campaign, points))
    assert set(errors) == {"points.17.lat", "points.17.lon"}


def test_one_answer_names_every_kind_of_fault_in_the_points(api_as: Any, campaign_for: Any) -> None:
    """A malformed point does not hide another outside the district: the phone offers to send the route
    again without the refused points, which takes one answer naming them all (up to ten)."""
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(30)
    points[1] = {**points[1], "accuracy_m": -1}
    points[3] = {**points[3], "lat": 39.9, "lon": 116.4}  # Beijing
    points[5] = [1, 2]
    errors = _refused(api, route_body(campaign, points))
    assert set(errors) == {"points.1.accuracy_m", "points.3.lat", "points.3.lon", "points.5._schema"}

    # Past ten faults, the rest are counted, not named.
    many = walk(30)
    for i in range(0, 24, 2):
        many[i] = {**many[i], "lat": 39.9, "lon": 116.4}
    many[25] = {**many[25], "accuracy_m": -1}
    errors = _refused(api, route_body(campaign, many))
    named = {key.split(".")[1] for key in errors if key.startswith("points.")}
    assert len(named) == 10
    assert errors["points"] == ["另有 3 个点也有错误。"]


def test_out_of_order_and_future_times_are_named(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(30)
    points[5], points[6] = points[6], points[5]
    assert "points.6.t" in _refused(api, route_body(campaign, points))

    future = walk(10, start=datetime.now(UTC) + timedelta(hours=3))
    errors = _refused(api, route_body(campaign, future))
    assert "started_at" in errors and "ended_at" in errors

    late = walk(10)
    late[9] = {**late[9], "t": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    body = route_body(campaign, late, ended_at=late[8]["t"])
    assert "points.9.t" in _refused(api, body)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"t": "yesterday"}, "points.3.t"),
        ({"t": None}, "points.3.t"),
        ({"lat": "30.1"}, "points.3.lat"),
        ({"lon": 200}, "points.3.lon"),
        ({"accuracy_m": -1}, "points.3.accuracy_m"),
    ],
)
def test_a_malformed_point_is_named(
    api_as: Any, campaign_for: Any, change: dict[str, Any], field: str
) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(10)
    points[3] = {**points[3], **change}
    assert field in _refused(api, route_body(campaign, points))


def test_point_not_an_object_and_times_outside_the_route(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points: list[Any] = walk(10)
    points[2] = [1, 2]
    assert "points.2._schema" in _refused(api, route_body(campaign, points))
    points = walk(10, step_s=60)  # 5 minutes before the start is beyond the phone's clock slack
    body = route_body(campaign, points, started_at=points[5]["t"])
    assert "points.0.t" in _refused(api, body)
    body = route_body(
        campaign, points, ended_at=(datetime.fromisoformat(points[0]["t"]) - timedelta(minutes=1)).isoformat()
    )
    assert "ended_at" in _refused(api, body)


def test_too_few_and_too_many_points(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    assert "points" in _refused(api, route_body(campaign, walk(1)))
    assert "points" in _refused(api, route_body(campaign, []))
    many = [{"t": "2026-05-01T08:00:00", "lat": PADDY[0], "lon": PADDY[1]}] * (MAX_POINTS + 1)
    assert "points" in _refused(api, route_body(campaign, many))
    assert "points" in _refused(api, {**route_body(campaign, walk(2)), "points": "many"})


def test_a_body_beyond_the_largest_route_is_413(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    body = route_body(campaign, walk(3), notes=None)
    padding = " " * (8 * 1024 * 1024 + 10)
    import json

    response = api.post(
        "/api/v1/routes", data=json.dumps(body) + padding, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "points" in response.get_json()["errors"]


def test_campaign_and_unit_are_checked(api_as: Any, campaign_for: Any, make_user: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    assert "campaign_id" in _refused(api, route_body(campaign, campaign_id=2**31 - 1))
    stranger = campaign_for(make_user("bureau_admin", "agriculture"), "agriculture", name="农业 普查")
    assert "campaign_id" in _refused(api, route_body(campaign, campaign_id=stranger.id))
    assert "unit_id" in _refused(api, route_body(campaign, unit_id=stranger.units[0].id))
    assert "unit_id" in _refused(api, route_body(campaign, unit_id=2**31 - 1))
    assert "campaign_id" in _refused(api, route_body(campaign, campaign_id=None))
    # Another bureau's surveyor assigned to one of its units records for it.
    outsider = make_user("surveyor", "agriculture")
    campaign.units[0].assignee_id = outsider.id
    db.session.commit()
    assert api_as(outsider).post("/api/v1/routes", json=route_body(campaign)).status_code == 201


def test_list_filters_and_reading(api_as: Any, campaign_for: Any, make_user: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    other = campaign_for(api.user, name="监测")
    mine = api.post("/api/v1/routes", json=route_body(campaign)).get_json()
    api.post("/api/v1/routes", json=route_body(other)).get_json()
    listed = api.get(f"/api/v1/routes?campaign_id={campaign.id}").get_json()
    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert listed["total"] == 1
    assert "points" not in listed["items"][0]
    by_unit = api.get(f"/api/v1/routes?unit_id={campaign.units[0].id}").get_json()
    assert [r["id"] for r in by_unit["items"]] == [mine["id"]]
    by_surveyor = api.get(f"/api/v1/routes?surveyor_id={api.user.id}").get_json()
    assert by_surveyor["total"] == 2
    one = api.get(f"/api/v1/routes/{mine['id']}").get_json()
    assert one["length_m"] == mine["length_m"] and len(one["points"]) == 60
    feature = api.get(f"/api/v1/routes/{mine['id']}/geojson")
    assert feature.mimetype == "application/geo+json"
    assert feature.get_json()["geometry"]["type"] == "LineString"
    assert feature.get_json()["properties"]["length_m"] == mine["length_m"]
    # Another bureau reads none of it.
    stranger = api_as("supervisor", "agriculture")
    assert stranger.get(f"/api/v1/routes?campaign_id={campaign.id}").get_json()["total"] == 0
    assert stranger.get(f"/api/v1/routes/{mine['id']}").status_code == 403
    assert api.get("/api/v1/routes/2147483647").status_code == 404
    assert api.get("/api/v1/routes?campaign_id=abc").status_code == 422


# ---------------------------------------------------------------------------------------------
# Records made for a campaign and along a route


def test_records_along_a_route_belong_to_it_in_either_order(
    api_as: Any, campaign_for: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    body = route_body(campaign)
    # The record reaches the server first (sent from the phone's outbox before the route was finished).
    record = api.post(
        "/api/v1/observations",
        json=observation_payload(campaign_id=campaign.id, route_uuid=body["client_uuid"]),
    )
    assert record.status_code == 201, record.get_json()
    assert record.get_json()["campaign_id"] == campaign.id
    assert record.get_json()["route_uuid"] == body["client_uuid"]
    route = _stored(api, body)
    assert [r["id"] for r in route["records"]] == [record.get_json()["id"]]
    # And one after it.
    later = api.post(
        "/api/v1/observations",
        json=observation_payload(
            campaign_id=campaign.id,
            route_uuid=body["client_uuid"],
            detected=False,
            density_per_m2=None,
            egg_masses_per_m2=None,
            area_m2=None,
        ),
    )
    assert later.status_code == 201
    records = api.get(f"/api/v1/routes/{route['id']}").get_json()["records"]
    assert {r["id"] for r in records} == {record.get_json()["id"], later.get_json()["id"]}


def test_a_record_for_a_campaign_it_may_not_record_for_is_refused_and_nothing_kept(
    api_as: Any, campaign_for: Any, make_user: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    stranger = campaign_for(make_user("bureau_admin", "agriculture"), "agriculture", name="农业 普查")
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Observation))
    for campaign_id in (stranger.id, 2**31 - 1):
        response = api.post("/api/v1/observations", json=observation_payload(campaign_id=campaign_id))
        assert response.status_code == 422
        assert "campaign_id" in response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == count


def test_a_record_along_a_route_of_another_campaign_is_refused(
    api_as: Any, campaign_for: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    other = campaign_for(api.user, name="监测")
    route = api.post("/api/v1/routes", json=route_body(campaign)).get_json()
    response = api.post(
        "/api/v1/observations",
        json=observation_payload(campaign_id=other.id, route_uuid=route["client_uuid"]),
    )
    assert response.status_code == 422
    assert "route_uuid" in response.get_json()["errors"]
    ok = api.post("/api/v1/observations", json=observation_payload(route_uuid=str(uuid.uuid4())))
    assert ok.status_code == 201  # a route not sent yet: linked by its UUID alone


def test_a_route_of_another_campaign_than_its_records_is_refused(
    api_as: Any, campaign_for: Any, observation_payload: Any
) -> None:
    """The records reached the server first, for one campaign; their route may not then be filed under
    another: each record would count in both campaigns' coverage."""
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    other = campaign_for(api.user, name="监测")
    body = route_body(campaign)
    record = api.post(
        "/api/v1/observations",
        json=observation_payload(campaign_id=campaign.id, route_uuid=body["client_uuid"]),
    )
    assert record.status_code == 201, record.get_json()
    refused = api.post("/api/v1/routes", json={**body, "campaign_id": other.id, "unit_id": other.units[0].id})
    assert refused.status_code == 422, refused.get_json()
    assert set(refused.get_json()["errors"]) == {"campaign_id"}
    assert campaign.name in refused.get_json()["errors"]["campaign_id"][0]
    assert _route_count() == 0
    counted = api.get(f"/api/v1/campaigns/{other.id}/coverage").get_json()
    assert all(u["records"] == 0 for u in counted["units"]), counted["units"]
    # For its records' campaign it is stored, and they are its records.
    route = _stored(api, body)
    assert [r["id"] for r in route["records"]] == [record.get_json()["id"]]


# ---------------------------------------------------------------------------------------------
# Pages


def test_route_pages_show_the_campaigns_routes_and_effort(
    api_as: Any, web_as: Any, campaign_for: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    body = route_body(campaign, walk(61, step_s=70, step_m=40))  # 2.4 km in 70 minutes
    route = _stored(api, body)
    absence = observation_payload(
        campaign_id=campaign.id,
        route_uuid=body["client_uuid"],
        detected=False,
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
    )
    assert api.post("/api/v1/observations", json=absence).status_code == 201
    web = web_as(api.user)
    walk_page = web.get("/surveys/routes/new").get_data(as_text=True)
    assert campaign.name in walk_page and 'id="ias-route-data"' in walk_page
    detail = web.get(f"/surveys/routes/{route['id']}").get_data(as_text=True)
    hours, minutes = divmod(round(route["duration_s"] / 60), 60)
    assert (hours, minutes) == (1, 10)
    effort = f"{route['length_m'] / 1000:.1f} km，1 小时 10 分钟"
    assert effort in detail
    assert "沿此路线调查" in detail  # the absence, with the route's effort
    campaign_page = web.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f"/surveys/routes/{route['id']}" in campaign_page
    assert f"/surveys/routes/new?campaign={campaign.id}" in campaign_page
    mine = web.get("/surveys/routes").get_data(as_text=True)
    assert f"/surveys/routes/{route['id']}" in mine


def test_a_route_of_poor_fixes_only_is_drawn_through_all_of_them(
    api_as: Any, campaign_for: Any, app: Flask
) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(10, accuracy=app.config["IAS_GPS_ACCURACY_LIMIT_M"] * 3)
    data = _stored(api, route_body(campaign, points, unit_id=None))
    assert data["unit_id"] is None  # walked for the campaign, outside any one unit
    assert (data["point_count"], data["poor_point_count"]) == (10, 10)
    assert len(data["geometry"]["coordinates"]) == 10
    assert data["length_m"] == pytest.approx(_length(points), rel=5e-3)


def test_surveys_checks_every_new_record() -> None:
    from app import events
    from app.observations.events import ObservationRecorded
    from app.surveys.handlers import on_observation_recorded

    assert on_observation_recorded in events.handlers(ObservationRecorded)
