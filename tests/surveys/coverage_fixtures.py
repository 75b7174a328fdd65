"""Rows for the coverage tests, built with the models (docs/surveys.md): a campaign with units, routes
with a track, and records of the campaign (made through the API, then marked as the campaign's)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization, User
from app.clock import local_today
from app.district.models import Township, Village
from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.surveys.models import Campaign, CampaignKind, Route, SurveyUnit


def org_id(code: str = "forestry") -> int:
    return int(db.session.scalar(sa.select(Organization.id).where(Organization.code == code)))


def township(code: str) -> Township:
    return db.session.scalars(sa.select(Township).where(Township.code == code)).one()


def village(code: str) -> Village:
    return db.session.scalars(sa.select(Village).where(Village.code == code)).one()


def make_campaign(
    creator: User,
    *,
    name: str = "2026 普查",
    organization: str = "forestry",
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> Campaign:
    """A campaign running today (by default from 90 days ago to 90 days ahead): the routes and records
    these fixtures make now fall in its dates, so they count in its coverage."""
    today = local_today()
    campaign = Campaign(
        organization_id=org_id(organization),
        name=name,
        kind=CampaignKind.CENSUS,
        starts_on=starts_on or today - timedelta(days=90),
        ends_on=ends_on or today + timedelta(days=90),
        created_by_id=creator.id,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def add_unit(
    campaign: Campaign, code: str, *, assignee: User | None = None, due_on: date | None = None
) -> SurveyUnit:
    """A unit by code: 9 digits a township, 12 a village."""
    if len(code) == 12:
        v = village(code)
        unit = SurveyUnit(campaign_id=campaign.id, township_id=v.township_id, village_id=v.id, unit_code=code)
    else:
        unit = SurveyUnit(campaign_id=campaign.id, township_id=township(code).id, unit_code=code)
    unit.assignee_id = assignee.id if assignee else None
    unit.due_on = due_on
    db.session.add(unit)
    db.session.flush()
    return unit


def add_route(
    campaign: Campaign | None,
    surveyor: User,
    coordinates: list[tuple[float, float]],
    *,
    unit: SurveyUnit | None = None,
    length_m: float = 1000.0,
    started_at: datetime | None = None,
    paused_s: int = 0,
    gaps: list[int] | None = None,
) -> Route:
    started = started_at or datetime.now(UTC) - timedelta(hours=3)
    ended = started + timedelta(minutes=len(coordinates))
    route = Route(
        client_uuid=uuid.uuid4(),
        payload_sha256=hashlib.sha256(str(coordinates).encode()).hexdigest(),
        organization_id=surveyor.organization_id,
        surveyor_id=surveyor.id,
        campaign_id=campaign.id if campaign else None,
        unit_id=unit.id if unit else None,
        started_at=started,
        ended_at=ended,
        points=[{"lon": x, "lat": y} for x, y in coordinates],
        geometry={
            **({"gaps": gaps} if gaps else {}),
            "type": "LineString",
            "coordinates": [list(c) for c in coordinates],
        },
        length_m=length_m,
        duration_s=int((ended - started).total_seconds()),
        moving_s=int((ended - started).total_seconds()) - paused_s,
        point_count=len(coordinates),
        poor_point_count=0,
        min_lon=min(c[0] for c in coordinates),
        min_lat=min(c[1] for c in coordinates),
        max_lon=max(c[0] for c in coordinates),
        max_lat=max(c[1] for c in coordinates),
    )
    db.session.add(route)
    db.session.flush()
    return route


def add_record(
    make_observation: Any,
    api: Any,
    *,
    lon: float,
    lat: float,
    campaign: Campaign | None = None,
    route: Route | None = None,
    township_code: str | None = None,
    village_code: str | None = None,
    status: ReviewStatus | None = None,
    **fields: Any,
) -> Observation:
    """A record through the API, then given its campaign, route, village and status as stored."""
    body = make_observation(api, latitude=lat, longitude=lon, township_code=township_code, **fields)
    record = db.session.get(Observation, body["id"])
    assert record is not None
    record.campaign_id = campaign.id if campaign else None
    record.route_uuid = route.client_uuid if route else None
    if village_code is not None:
        record.village_id = village(village_code).id
        record.township_id = village(village_code).township_id
    if status is not None:
        record.status = status
    db.session.flush()
    return record
