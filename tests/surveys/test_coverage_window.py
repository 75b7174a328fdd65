"""Coverage counts only what falls in the campaign's dates (docs/surveys.md, Coverage): a route started,
a record observed, on a local day (Asia/Shanghai) from `starts_on` to `ends_on`, both included. What lies
outside is kept but counted nowhere, the pages say how much, and shrinking the window changes the figures.

The instants are written here in UTC from the local clock by hand (Asia/Shanghai is UTC+8, no summer
time): 23:30 local on a day is 15:30 UTC the same day, 00:10 local is 16:10 UTC the day before."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from app.clock import local_today
from app.extensions import db
from app.surveys import coverage
from tests.surveys.coverage_fixtures import add_record, add_route, add_unit, make_campaign


def _utc(day: date, hour: int, minute: int) -> datetime:
    """`hour:minute` on `day` in Beijing time, as a UTC instant (UTC+8, computed by hand)."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def plan(make_user: Any, api_as: Any, make_observation: Any) -> dict[str, Any]:
    planner = make_user("bureau_admin")
    walker = make_user("surveyor", display_name="甲")
    starts_on = local_today() - timedelta(days=20)
    ends_on = local_today() - timedelta(days=5)
    campaign = make_campaign(planner, starts_on=starts_on, ends_on=ends_on)
    late_evening = add_unit(campaign, "500155001", assignee=walker)  # walked 23:30 on the last day
    next_day = add_unit(campaign, "500155004", assignee=walker)  # walked 00:10 the day after
    add_unit(campaign, "500155005", assignee=walker)  # a record 23:50 the day before the first
    add_unit(campaign, "500155003", assignee=walker)  # a record 00:00 on the first day
    in_time = add_route(
        campaign,
        walker,
        [(107.70, 30.60), (107.71, 30.61)],
        unit=late_evening,
        started_at=_utc(ends_on, 23, 30),
    )
    too_late = add_route(
        campaign,
        walker,
        [(107.70, 30.60), (107.71, 30.61)],
        unit=next_day,
        started_at=_utc(ends_on + timedelta(days=1), 0, 10),
    )
    api = api_as(walker)
    early = add_record(
        make_observation, api, lon=107.83, lat=30.64, campaign=campaign, township_code="500155005"
    )
    first = add_record(
        make_observation, api, lon=107.82, lat=30.66, campaign=campaign, township_code="500155003"
    )
    early.observed_at = _utc(starts_on - timedelta(days=1), 23, 50)
    first.observed_at = _utc(starts_on, 0, 0)
    db.session.flush()
    return {
        "planner": planner,
        "walker": walker,
        "campaign": campaign,
        "in_time": in_time,
        "too_late": too_late,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }


def test_only_what_falls_in_the_campaigns_local_days_counts(plan: dict[str, Any], api_as: Any) -> None:
    # By hand: the route at 23:30 on the last day and the record at 00:00 on the first day count; the
    # route at 00:10 the day after and the record at 23:50 the day before do not.
    body = api_as("verifier").get(f"/api/v1/campaigns/{plan['campaign'].id}/coverage").get_json()
    statuses = {u["unit_code"]: u["status"] for u in body["units"]}
    assert statuses == {
        "500155001": "covered",
        "500155003": "covered",
        "500155004": "not_started",
        "500155005": "not_started",
    }
    assert (body["routes"], body["routes_outside"]) == (1, 1)
    assert (body["records"], body["records_outside"]) == (1, 1)
    assert body["summary"]["covered"] == 2 and body["summary"]["covered_pct"] == 50.0
    assert (body["starts_on"], body["ends_on"]) == (
        plan["starts_on"].isoformat(),
        plan["ends_on"].isoformat(),
    )
    # The map draws only what counts.
    geo = api_as("verifier").get(f"/api/v1/campaigns/{plan['campaign'].id}/coverage/geojson").get_json()
    route_ids = {f["properties"].get("id") for f in geo["features"] if f["properties"].get("kind") == "route"}
    assert plan["too_late"].id not in route_ids


def test_shrinking_the_window_changes_the_figures(plan: dict[str, Any], api_as: Any) -> None:
    campaign_id = plan["campaign"].id
    planner = api_as(plan["planner"])
    shrunk = planner.patch(
        f"/api/v1/campaigns/{campaign_id}",
        json={"ends_on": (plan["ends_on"] - timedelta(days=1)).isoformat()},
    )
    assert shrunk.status_code == 200, shrunk.get_json()
    body = api_as("verifier").get(f"/api/v1/campaigns/{campaign_id}/coverage").get_json()
    # Now the 23:30 route is a day late too; the first day is unchanged.
    assert {u["unit_code"]: u["status"] for u in body["units"]}["500155001"] == "not_started"
    assert (body["routes"], body["routes_outside"]) == (0, 2)
    assert body["summary"]["covered"] == 1
    # Moving the start a day later leaves the 00:00 record of the old first day out as well.
    planner.patch(
        f"/api/v1/campaigns/{campaign_id}",
        json={"starts_on": (plan["starts_on"] + timedelta(days=1)).isoformat()},
    )
    again = coverage.compute(campaign_id)
    assert (len(again.records), again.records_outside) == (0, 2)
    assert again.totals.covered == 0


def test_the_pages_say_what_is_not_counted(plan: dict[str, Any], web_as: Any) -> None:
    web = web_as(plan["walker"])
    html = web.get(f"/campaigns/{plan['campaign'].id}").get_data(as_text=True)
    note = re.search(r"data-coverage-outside>(.*?)</p>", html, re.S)
    assert note is not None
    assert re.search(r"\b1\b", note.group(1))
    assert plan["starts_on"].isoformat() in note.group(1) and plan["ends_on"].isoformat() in note.group(1)
    # The routes list marks the route walked the day after, and only it.
    marked = re.findall(r'data-campaign-route="(\d+)"(?:(?!</li>).)*data-route-outside', html, re.S)
    assert marked == [str(plan["too_late"].id)]
    # The route's own page says it is kept but not counted; the one in time says nothing of the kind.
    late_page = web.get(f"/surveys/routes/{plan['too_late'].id}").get_data(as_text=True)
    assert "data-route-outside" in late_page
    in_time_page = web.get(f"/surveys/routes/{plan['in_time'].id}").get_data(as_text=True)
    assert "data-route-outside" not in in_time_page


def test_a_route_walked_outside_the_dates_is_still_accepted(plan: dict[str, Any], api_as: Any) -> None:
    """The phone's walked track is never stranded in its outbox: the route is stored, not counted."""
    import uuid

    ends_on = plan["ends_on"]
    start = _utc(ends_on + timedelta(days=2), 9, 0)
    body = {
        "client_uuid": str(uuid.uuid4()),
        "campaign_id": plan["campaign"].id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=2)).isoformat(),
        "points": [
            {
                "t": (start + timedelta(seconds=10 * i)).isoformat(),
                "lat": 30.60 + i * 0.001,
                "lon": 107.70,
                "accuracy_m": 5,
            }
            for i in range(3)
        ],
    }
    response = api_as(plan["walker"]).post("/api/v1/routes", json=body)
    assert response.status_code == 201, response.get_json()
    result = coverage.compute(plan["campaign"].id)
    assert result.routes_outside == 2 and len(result.routes) == 1


def test_a_route_before_the_campaign_does_not_spare_its_unit_a_reminder(make_user: Any) -> None:
    """The reminders judge units by the same coverage: a unit walked only the day before the campaign
    began is still not started, so its assignee is reminded as its due day nears."""
    import sqlalchemy as sa

    from app.notifications.models import Notification, NotificationKind
    from app.surveys import reminders

    planner = make_user("supervisor")
    walker = make_user("surveyor", display_name="乙")
    today = local_today()
    campaign = make_campaign(planner, starts_on=today, ends_on=today + timedelta(days=20))
    early = add_unit(campaign, "500155001", assignee=walker, due_on=today + timedelta(days=2))
    walked = add_unit(campaign, "500155004", assignee=walker, due_on=today + timedelta(days=2))
    track = [(107.70, 30.60), (107.71, 30.61)]
    add_route(campaign, walker, track, unit=early, started_at=_utc(today - timedelta(days=1), 16, 0))
    add_route(campaign, walker, track, unit=walked, started_at=_utc(today, 0, 5))
    report = reminders.queue_unit_reminders(today)
    assert report.due == 1
    (note,) = db.session.scalars(
        sa.select(Notification).where(
            Notification.user_id == walker.id, Notification.kind == NotificationKind.SURVEY_UNIT_REMINDERS
        )
    )
    assert [item["unit_id"] for item in note.data["items"]] == [early.id]
