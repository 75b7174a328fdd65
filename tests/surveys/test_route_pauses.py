"""A route's pauses and moving time, and a route sent again without the points the server refused
(docs/surveys.md, Routes: "Pauses and moving time", "A refused route")."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.surveys.models import Route
from tests.surveys.routes_fixtures import campaign_for, haversine_m, route_body, walk

__all__ = ["campaign_for"]  # the fixture, used by name


def _length(points: list[dict[str, Any]]) -> float:
    return sum(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) for a, b in itertools.pairwise(points))


def _at(point: dict[str, Any], seconds: float = 0) -> str:
    return (datetime.fromisoformat(point["t"]) + timedelta(seconds=seconds)).isoformat()


def _refused(api: Any, body: dict[str, Any]) -> dict[str, list[str]]:
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Route))
    response = api.post("/api/v1/routes", json=body)
    assert response.status_code == 422, response.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Route)) == before
    return response.get_json()["errors"]  # type: ignore[no-any-return]


def test_a_pause_is_left_out_of_the_moving_time_and_its_gap_out_of_the_length(
    api_as: Any, web_as: Any, campaign_for: Any
) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    before = walk(20, step_s=10, step_m=5)
    # Lunch: 40 minutes paused, then the walk goes on 300 m further on (driven there, not walked).
    resumed = walk(
        20, start=datetime.fromisoformat(before[-1]["t"]) + timedelta(minutes=40), step_s=10, step_m=5
    )
    shift_lat = 300 / 111_320.0
    after = [{**p, "lat": p["lat"] + shift_lat} for p in resumed]
    pause = {"started_at": _at(before[-1], 5), "ended_at": _at(after[0], -5)}
    body = route_body(campaign, before + after, pauses=[pause])
    response = api.post("/api/v1/routes", json=body)
    assert response.status_code == 201, response.get_json()
    data = api.get(f"/api/v1/routes/{response.get_json()['id']}").get_json()

    elapsed = (
        datetime.fromisoformat(after[-1]["t"]) - datetime.fromisoformat(before[0]["t"])
    ).total_seconds()
    assert data["duration_s"] == int(elapsed)
    assert data["moving_s"] == int(elapsed) - (40 * 60 - 10)
    assert len(data["pauses"]) == 1 and data["pauses"][0]["started_at"].endswith("Z")
    # The line is drawn through every fix, but the straight line across the pause is not measured.
    assert len(data["geometry"]["coordinates"]) == 40
    assert data["geometry"]["gaps"] == [19]  # the segment from the 20th fix to the 21st: kept in the line
    walked = _length(before) + _length(after)
    assert data["length_m"] == pytest.approx(walked, rel=5e-3)
    gap = _length([before[-1], after[0]])
    assert gap > 200
    assert data["length_m"] == pytest.approx(_length(before + after) - gap, rel=5e-3)
    # The route page says the effort in moving time, and that the pause is left out.
    page = web_as(api.user).get(f"/surveys/routes/{data['id']}").get_data(as_text=True)
    assert f"km，{round(data['moving_s'] / 60)} 分钟" in page
    assert "data-route-paused" in page


def test_an_old_phone_without_pauses_has_moving_time_equal_to_elapsed(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    response = api.post("/api/v1/routes", json=route_body(campaign, walk(30, step_s=5)))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["moving_s"] == data["duration_s"] == 29 * 5
    assert data["pauses"] is None and data["dropped_point_count"] == 0


def test_pauses_are_checked_and_named(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(30, step_s=60)
    first, last = points[0], points[-1]

    def body(pauses: Any) -> dict[str, Any]:
        return route_body(campaign, points, pauses=pauses)

    outside = [{"started_at": _at(first, -600), "ended_at": _at(first, 60)}]
    assert set(_refused(api, body(outside))) == {"pauses.0.started_at"}
    beyond = [{"started_at": _at(last, -60), "ended_at": _at(last, 600)}]
    assert set(_refused(api, body(beyond))) == {"pauses.0.ended_at"}
    backwards = [{"started_at": _at(first, 300), "ended_at": _at(first, 120)}]
    assert set(_refused(api, body(backwards))) == {"pauses.0.ended_at"}
    overlapping = [
        {"started_at": _at(first, 120), "ended_at": _at(first, 600)},
        {"started_at": _at(first, 300), "ended_at": _at(first, 900)},
    ]
    assert set(_refused(api, body(overlapping))) == {"pauses.1.started_at"}
    assert "pauses" in "".join(_refused(api, body([{"started_at": "noon"}])))
    assert "pauses" in _refused(api, body("lunch"))
    assert "dropped_point_count" in _refused(api, route_body(campaign, points, dropped_point_count=-1))


def test_a_refused_route_sent_again_without_its_refused_points(
    api_as: Any, web_as: Any, campaign_for: Any
) -> None:
    """The phone's "send again without the refused points": the same client_uuid, the refused points
    left out and counted; nothing was stored by the refusal, so it is no clash."""
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    points = walk(30)
    points[17] = {**points[17], "lat": 39.9, "lon": 116.4}  # a GPS jump to Beijing
    body = route_body(campaign, points)
    errors = _refused(api, body)
    refused = {int(key.split(".")[1]) for key in errors if key.startswith("points.")}
    assert refused == {17}
    again = {
        **body,
        "points": [p for i, p in enumerate(points) if i not in refused],
        "dropped_point_count": len(refused),
    }
    response = api.post("/api/v1/routes", json=again)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["point_count"] == 29 and data["dropped_point_count"] == 1
    page = web_as(api.user).get(f"/surveys/routes/{data['id']}").get_data(as_text=True)
    assert "data-route-dropped" in page
