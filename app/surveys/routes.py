"""踏查 routes: a GPS track walked for a campaign, checked, measured and stored once (docs/surveys.md).

A route arrives whole, when the walk is over (the phone keeps its points offline and sends the finished
route through its outbox, like a record). It is idempotent by `client_uuid` like records
(app/idempotency.py). Its points and pauses are checked and measured by app/surveys/tracks.py; this module
stores what passes, and reads routes back for whoever may see them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.accounts.models import User
from app.accounts.organizations import acting_ids
from app.clock import CLOCK_SKEW, EARLIEST
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.geo.crs import CRS
from app.idempotency import CreateOnce
from app.messages import invalid_fields_message
from app.observations.models import Observation
from app.surveys.campaign_queries import takes_part
from app.surveys.models import Campaign, Route, SurveyUnit
from app.surveys.tracks import check_pauses, check_points, moving_seconds, utc_text

# ---------------------------------------------------------------------------------------------
# Who may record for a campaign


def may_record_for(user: User, campaign: Campaign) -> bool:
    """The campaigns' own rule (app/surveys/campaigns.py takes_part): an admin, staff of its bureau or of
    a unit under it, or the assignee of one of its units."""
    return takes_part(user, campaign)


def campaign_to_record_for(actor: User, campaign_id: int, errors: FieldErrors) -> Campaign | None:
    """The campaign, when it exists and `actor` may record for it; else None with the reason under
    `campaign_id` in `errors`."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        errors["campaign_id"] = [_("Unknown campaign.")]
        return None
    if not may_record_for(actor, campaign):
        errors["campaign_id"] = [
            _("You do not record for the campaign %(name)s (another bureau's).", name=campaign.name)
        ]
        return None
    return campaign


# ---------------------------------------------------------------------------------------------
# Checking and measuring the points


# ---------------------------------------------------------------------------------------------
# Creating


def _clash(existing: Route) -> Conflict:
    return Conflict(
        _(
            "A different route was already sent with this client_uuid (route %(id)s); "
            "make a new client_uuid for a new route.",
            id=existing.id,
        ),
        {"client_uuid": [_("already used for route %(id)s", id=existing.id)]},
    )


def _check_records_campaign(
    actor: User, client_uuid: uuid.UUID, campaign: Campaign, errors: FieldErrors
) -> None:
    """Records along the route that reached the server before it, for another campaign, keep the route
    to theirs: filed under another, each would count in both campaigns' coverage (the mirror of the
    check on a record along a route already stored, app/surveys/handlers.py)."""
    other = db.session.scalar(
        sa.select(Campaign.name)
        .join(Observation, Observation.campaign_id == Campaign.id)
        .where(
            Observation.organization_id == actor.organization_id,
            Observation.route_uuid == client_uuid,
            Observation.campaign_id != campaign.id,
        )
        .limit(1)
    )
    if other is not None:
        errors["campaign_id"] = [
            _(
                "The records made along this route are for the campaign %(name)s: send the route for it.",
                name=other,
            )
        ]


def create_route(*, actor: User, args: dict[str, Any]) -> tuple[Route, bool]:
    """Store a walked route, or return the one an earlier try of the same request made.

    Returns (route, created). Raises InvalidInput naming every field at fault (points by index:
    `points.17.t`), and Conflict when the client_uuid was used for a different route.
    """
    sent = dict(args)
    if args.get("pauses") is not None:  # the fingerprint is of plain JSON: the pauses' times as text
        sent["pauses"] = [{k: utc_text(v) for k, v in pause.items()} for pause in args["pauses"]]
    once = CreateOnce(Route, actor.organization_id, args["client_uuid"], sent, _clash, sender_id=actor.id)
    earlier = once.earlier()
    if earlier is not None:
        return earlier, False

    errors: FieldErrors = {}
    started_at: datetime = args["started_at"]
    ended_at: datetime = args["ended_at"]
    now = datetime.now(UTC)
    if started_at > now + CLOCK_SKEW:
        errors["started_at"] = [_("is in the future; check the phone's date and time.")]
    elif started_at < EARLIEST:
        errors["started_at"] = [_("is before 1990; check the year.")]
    if ended_at > now + CLOCK_SKEW:
        errors["ended_at"] = [_("is in the future; check the phone's date and time.")]
    elif ended_at < started_at:
        errors["ended_at"] = [_("is before the route's start.")]
    campaign = campaign_to_record_for(actor, args["campaign_id"], errors)
    if campaign is not None:
        _check_records_campaign(actor, args["client_uuid"], campaign, errors)
    unit: SurveyUnit | None = None
    if args.get("unit_id") is not None:
        unit = db.session.get(SurveyUnit, args["unit_id"])
        if unit is None or (campaign is not None and unit.campaign_id != campaign.id):
            errors["unit_id"] = [_("Not a unit of this campaign.")]
    pauses: list[tuple[datetime, datetime]] = []
    if not errors:
        pauses = check_pauses(args.get("pauses"), started_at, ended_at, errors)
    track = None
    if not errors:
        track = check_points(args["points"], CRS(args["crs"]), started_at, ended_at, errors, pauses)
    if errors or track is None:
        raise InvalidInput(invalid_fields_message(errors), errors)

    def build() -> Route:
        min_lon, min_lat, max_lon, max_lat = track.bbox
        route = Route(
            client_uuid=args["client_uuid"],
            payload_sha256=once.payload,
            organization_id=actor.organization_id,
            surveyor_id=actor.id,
            campaign_id=args["campaign_id"],
            unit_id=unit.id if unit else None,
            started_at=started_at,
            ended_at=ended_at,
            points=track.points,
            geometry=track.geometry,
            length_m=track.length_m,
            duration_s=int((ended_at - started_at).total_seconds()),
            moving_s=moving_seconds(started_at, ended_at, pauses),
            pauses=None
            if args.get("pauses") is None
            else [{"started_at": utc_text(start), "ended_at": utc_text(end)} for start, end in pauses],
            dropped_point_count=args.get("dropped_point_count") or 0,
            point_count=len(track.points),
            poor_point_count=track.poor,
            min_lon=min_lon,
            min_lat=min_lat,
            max_lon=max_lon,
            max_lat=max_lat,
            notes=args.get("notes"),
        )
        db.session.add(route)
        return route

    return once.create(build)


# ---------------------------------------------------------------------------------------------
# Reading


def get_route(actor: User, route_id: int) -> Route:
    """Raises NotFound, PermissionDenied (another bureau's route)."""
    route = db.session.get(Route, route_id)
    if route is None:
        raise NotFound(_("No route with id %(id)s.", id=route_id))
    if not may_read(actor, route):
        raise PermissionDenied(_("This route belongs to another bureau."))
    return route


def may_read(user: User, route: Route) -> bool:
    """Staff acting for the route's organization (its bureau reads its units' routes): app/policy.py."""
    return policy.may_read_route(user, route)


def filtered(actor: User, filters: dict[str, Any]) -> sa.Select[tuple[Route]]:
    """Routes the actor may read matching the filters, newest first. The points are not loaded."""
    stmt = sa.select(Route).options(sa.orm.defer(Route.points), sa.orm.defer(Route.geometry))
    ids = acting_ids(actor)
    if ids is not None:
        stmt = stmt.where(Route.organization_id.in_(ids))
    for name in ("campaign_id", "surveyor_id", "unit_id"):
        if name in filters:
            stmt = stmt.where(getattr(Route, name) == filters[name])
    return stmt.order_by(Route.started_at.desc(), Route.id.desc())


def records_along(route: Route) -> list[Observation]:
    """The records made while the route ran: its organization's records carrying its client UUID,
    whenever they arrived (docs/surveys.md)."""
    return list(
        db.session.scalars(
            sa.select(Observation)
            .where(
                Observation.organization_id == route.organization_id,
                Observation.route_uuid == route.client_uuid,
            )
            .order_by(Observation.observed_at, Observation.id)
        )
    )


def route_by_uuid(organization_id: int, client_uuid: uuid.UUID) -> Route | None:
    return db.session.scalar(
        sa.select(Route).where(Route.organization_id == organization_id, Route.client_uuid == client_uuid)
    )


# ---------------------------------------------------------------------------------------------
# What the phone's route page needs


def unit_name(unit: SurveyUnit) -> str:
    return unit.village.short_name if unit.village is not None else unit.township.name_zh


def campaigns_to_walk(actor: User, today: date) -> list[dict[str, Any]]:
    """The campaigns `actor` records for that have not ended, with their units (the actor's own first)
    and target species: the route page keeps them, so a route can be started with no signal. Those with a
    unit assigned to the actor come first (the page starts on the first), then those under way."""
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.ends_on >= today)
        .options(sa.orm.selectinload(Campaign.units))
        .order_by(Campaign.starts_on, Campaign.id)
    )
    walkable: list[tuple[tuple[bool, bool], dict[str, Any]]] = []
    for campaign in campaigns:
        if not may_record_for(actor, campaign):
            continue
        units = sorted(campaign.units, key=lambda u: (u.assignee_id != actor.id, u.unit_code))
        order = (not any(u.assignee_id == actor.id for u in units), campaign.starts_on > today)
        walkable.append(
            (
                order,
                {
                    "id": campaign.id,
                    "name": campaign.name,
                    "units": [
                        {"id": u.id, "name": unit_name(u), "mine": u.assignee_id == actor.id} for u in units
                    ],
                    "species": [
                        {"id": s.id, "name_zh": s.name_zh, "name_sci": s.name_sci, "metrics": list(s.metrics)}
                        for s in campaign.species
                    ],
                },
            )
        )
    walkable.sort(key=lambda pair: pair[0])  # stable: start day and id within each group
    return [entry for _order, entry in walkable]


def of_campaign(campaign_id: int, limit: int = 50) -> list[Route]:
    """The campaign's routes, newest first (without their points): the campaign page lists them."""
    return list(
        db.session.scalars(
            sa.select(Route)
            .options(sa.orm.defer(Route.points), sa.orm.defer(Route.geometry))
            .where(Route.campaign_id == campaign_id)
            .order_by(Route.started_at.desc(), Route.id.desc())
            .limit(limit)
        )
    )
