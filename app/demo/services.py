"""The demo survey campaign `flask demo seed` leaves (docs/surveys.md, "The demo campaign"): a small 普查
of the demo admin's bureau with three township units assigned to the demo admin, one walked route (with a
pause) along which a 福寿螺 was found and the other target searched for and not found, and a plot of three
quadrats at the site the find opened. A new user sees the feature at once: "my survey units" on the home
page, the campaign's coverage, a route's page, a plot's figures.

Everything goes through the services (the same checks as the API). Idempotent: a bureau that has the
demo campaign (by its name) is left alone, so a re-run changes nothing.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import shapely
import sqlalchemy as sa

from app.accounts.models import Organization, User
from app.clock import local_today, local_zone
from app.district.boundaries import has_outline, inside_district, outline, township_code_at
from app.district.models import Township
from app.district.services import get_district
from app.extensions import db
from app.observations.create import create_observation
from app.observations.schemas import ObservationCreateArgs
from app.species.models import Species
from app.surveys import campaigns, plots, routes
from app.surveys.models import Campaign
from app.surveys.schemas.campaigns import CampaignCreateArgs
from app.surveys.schemas.plots import PlotCreateArgs
from app.surveys.schemas.routes import RouteCreateArgs

DEMO_NAME = "示范：外来入侵物种普查"
TARGETS = ("pomacea-canaliculata", "alternanthera-philoxeroides")
_NAMESPACE = uuid.UUID("6f0e2a52-3c1b-4f43-9d0e-1b8a4e1f9a10")


def _uuid(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def _bureau_of(user: User) -> Organization | None:
    org = user.organization
    if org.is_bureau:
        return org
    if org.parent is not None:
        return org.parent
    return db.session.scalars(sa.select(Organization).order_by(Organization.id)).first()


def _start_point() -> tuple[float, float] | None:
    """(lon, lat) inside the district: a point of its outline when loaded, else the middle of its box."""
    district = get_district()
    if district is None:
        return None
    if has_outline():
        shape = outline()
        if shape is not None:
            point = shapely.point_on_surface(shape)
            return float(point.x), float(point.y)
    return (district.min_lon + district.max_lon) / 2, (district.min_lat + district.max_lat) / 2


def seed_campaign(admin: User) -> str:
    """Create the demo campaign unless the bureau has it; returns what was done, for the command's output."""
    bureau = _bureau_of(admin)
    if bureau is None or not bureau.is_bureau:
        return "no bureau: demo campaign skipped"
    existing = db.session.scalar(
        sa.select(Campaign).where(Campaign.organization_id == bureau.id, Campaign.name == DEMO_NAME)
    )
    if existing is not None:
        return f"demo campaign {existing.id} exists; left as it is"
    species = sorted(
        db.session.scalars(sa.select(Species).where(Species.key.in_(TARGETS))),
        key=lambda s: TARGETS.index(s.key),
    )
    if len(species) < 2:
        species = list(db.session.scalars(sa.select(Species).order_by(Species.id).limit(2)))
    start = _start_point()
    district = get_district()
    if len(species) < 2 or start is None or district is None:
        return "no species or no district yet (run `flask district load` and `flask species sync`): skipped"
    lon0, lat0 = start
    here = township_code_at(lon0, lat0)
    townships = list(db.session.scalars(sa.select(Township.code).order_by(Township.code)))
    if here is None or here not in townships:
        here = townships[0]
    others = [code for code in townships if code != here][:2]
    today = local_today()

    campaign = campaigns.create_campaign(
        actor=admin,
        args=CampaignCreateArgs().load(
            {
                "name": DEMO_NAME,
                "kind": "census",
                "bureau": bureau.code,
                "starts_on": (today - timedelta(days=7)).isoformat(),
                "ends_on": (today + timedelta(days=60)).isoformat(),
                "species_ids": [s.id for s in species],
                "notes": "示范数据：由 flask demo seed 生成，可随意修改或删除。",
                "units": [
                    {
                        "township_code": code,
                        "assignee_id": admin.id,
                        "due_on": (today + timedelta(days=d)).isoformat(),
                    }
                    for code, d in zip([here, *others], (14, 21, 28), strict=False)
                ],
            }
        ),
    )
    unit = next(u for u in campaign.units if u.unit_code == here)

    # A walk of 40 fixes north-east, 30 s and about 12 m apart, two days ago from 09:00; a 10-minute
    # pause after the 20th fix (a phone call), left out of the moving time.
    begin = datetime.combine(today - timedelta(days=2), time(9, 0), tzinfo=local_zone()).astimezone(UTC)
    step = 12 / 111_320.0 / math.sqrt(2)
    points: list[dict[str, Any]] = []
    for i in range(40):
        at = begin + timedelta(seconds=30 * i + (600 if i >= 20 else 0))
        lat = lat0 + i * step
        lon = lon0 + i * step / math.cos(math.radians(lat0))
        if not inside_district(district, lon, lat):
            break
        points.append({"t": at.isoformat(), "lat": lat, "lon": lon, "accuracy_m": 6.0})
    if len(points) < 2:
        return "the district has no room for a demo route: skipped"
    pause_start = datetime.fromisoformat(points[min(19, len(points) - 1)]["t"]) + timedelta(seconds=15)
    ended = datetime.fromisoformat(points[-1]["t"])
    route_uuid = _uuid("route")
    route_args: dict[str, Any] = {
        "client_uuid": route_uuid,
        "campaign_id": campaign.id,
        "unit_id": unit.id,
        "started_at": points[0]["t"],
        "ended_at": points[-1]["t"],
        "points": points,
        "notes": "示范路线",
    }
    if len(points) > 20:
        route_args["pauses"] = [
            {
                "started_at": pause_start.isoformat(),
                "ended_at": (pause_start + timedelta(seconds=600)).isoformat(),
            }
        ]
    route, _created = routes.create_route(actor=admin, args=RouteCreateArgs().load(route_args))

    # Found along the route: the first target, with its density; the other searched and not found.
    found_at = points[len(points) // 2]
    minutes = round(route.moving_s / 60)
    found, _created = create_observation(
        actor=admin,
        args=ObservationCreateArgs().load(
            {
                "client_uuid": _uuid("found"),
                "species_id": species[0].id,
                "detected": True,
                "observed_at": found_at["t"],
                "latitude": found_at["lat"],
                "longitude": found_at["lon"],
                "accuracy_m": 6.0,
                "township_code": here,
                **({"density_per_m2": 6} if "density" in species[0].metrics else {}),
                "campaign_id": campaign.id,
                "route_uuid": route_uuid,
                "notes": "示范记录",
            }
        ),
    )
    create_observation(
        actor=admin,
        args=ObservationCreateArgs().load(
            {
                "client_uuid": _uuid("absent"),
                "species_id": species[1].id,
                "detected": False,
                "observed_at": ended.isoformat(),
                "latitude": found_at["lat"],
                "longitude": found_at["lon"],
                "accuracy_m": 6.0,
                "township_code": here,
                "campaign_id": campaign.id,
                "route_uuid": route_uuid,
                "notes": f"沿踏查路线调查，未发现：{route.length_m / 1000:.1f} km，{minutes} 分钟。",
            }
        ),
    )
    plot = None
    if found.site_id is not None:
        plot, _created = plots.create_plot(
            actor=admin,
            args=PlotCreateArgs().load(
                {
                    "client_uuid": _uuid("plot"),
                    "site_id": found.site_id,
                    "campaign_id": campaign.id,
                    "surveyed_at": found_at["t"],
                    "shape": "square",
                    "length_m": 10,
                    "notes": "示范样地",
                    "quadrats": [
                        {
                            "number": 1,
                            "size_m2": 1,
                            "records": [{"species_id": species[0].id, "density_per_m2": 8, "count": 8}],
                        },
                        {
                            "number": 2,
                            "size_m2": 1,
                            "records": [{"species_id": species[0].id, "density_per_m2": 4, "count": 4}],
                        },
                        {
                            "number": 3,
                            "size_m2": 1,
                            "records": [{"species_id": species[0].id, "density_per_m2": 0, "count": 0}],
                        },
                    ],
                }
            ),
        )
    return (
        f"demo campaign {campaign.id} created: {len(campaign.units)} units for {admin.username}, "
        f"route {route.id}, plot {plot.id if plot else '—'}"
    )
