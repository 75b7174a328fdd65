"""Fixtures of the routes tests: a campaign of forestry with one township unit, and a walked track."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import Organization, User
from app.clock import local_today
from app.district.models import Township
from app.extensions import db
from app.species.models import Species
from app.surveys.models import Campaign, CampaignKind, SurveyUnit
from tests.conftest import PADDY

TOWNSHIP = "500155001"


def make_campaign(
    creator: User, organization: str = "forestry", species_ids: tuple[int, ...] = (), name: str = "2026 普查"
) -> Campaign:
    org = db.session.scalar(sa.select(Organization).where(Organization.code == organization))
    township = db.session.scalar(sa.select(Township).where(Township.code == TOWNSHIP))
    assert org is not None and township is not None
    today = local_today()
    campaign = Campaign(
        organization_id=org.id,
        name=name,
        kind=CampaignKind.CENSUS,
        starts_on=today - timedelta(days=30),
        ends_on=today + timedelta(days=60),
        created_by_id=creator.id,
        species=[db.session.get(Species, i) for i in species_ids],
    )
    campaign.units.append(
        SurveyUnit(township_id=township.id, unit_code=TOWNSHIP, assignee_id=creator.id, due_on=today)
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


@pytest.fixture
def campaign_for(species_id: Any) -> Any:
    """`campaign_for(user, organization="forestry")`: a committed campaign with one unit (the township)
    targeting 福寿螺 and 喜旱莲子草."""

    def make(user: User, organization: str = "forestry", **kwargs: Any) -> Campaign:
        ids = (species_id("pomacea-canaliculata"), species_id("alternanthera-philoxeroides"))
        campaign = make_campaign(user, organization, ids, **kwargs)
        db.session.commit()
        return campaign

    return make


def walk(
    n: int = 60,
    *,
    start: datetime | None = None,
    step_s: float = 5.0,
    step_m: float = 4.0,
    accuracy: float | None = 5.0,
) -> list[dict[str, Any]]:
    """`n` fixes walking north-east from the paddy, `step_m` apart and `step_s` seconds apart."""
    begin = start or datetime.now(UTC) - timedelta(hours=2)
    lat0, lon0 = PADDY
    d_lat = step_m / 111_320.0 / math.sqrt(2)
    d_lon = d_lat / math.cos(math.radians(lat0))
    return [
        {
            "t": (begin + timedelta(seconds=i * step_s)).isoformat(),
            "lat": lat0 + i * d_lat,
            "lon": lon0 + i * d_lon,
            "accuracy_m": accuracy,
        }
        for i in range(n)
    ]


def route_body(
    campaign: Campaign, points: list[dict[str, Any]] | None = None, **changes: Any
) -> dict[str, Any]:
    points = walk() if points is None else points
    body: dict[str, Any] = {
        "client_uuid": str(uuid.uuid4()),
        "campaign_id": campaign.id,
        "unit_id": campaign.units[0].id,
        "started_at": points[0]["t"] if points else datetime.now(UTC).isoformat(),
        "ended_at": points[-1]["t"] if points else datetime.now(UTC).isoformat(),
        "points": points,
        "notes": "沿河踏查",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean sphere: an independent check of the geodesic length."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
