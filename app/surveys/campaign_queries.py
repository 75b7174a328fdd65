"""Survey campaigns (调查任务), the reading part (docs/surveys.md): a campaign and its units, who takes
part in it, the campaigns a list shows, "my survey units", the bureaus a user plans for and the people
they may assign, and the units' outlines for a phone's map. Planning and changing campaigns (and the
checks of a plan) is app/surveys/campaigns.py's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import shapely
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from app import policy
from app.accounts.models import Organization, User
from app.accounts.organizations import acting_ids, unit_ids
from app.clock import local_today
from app.district.models import Boundary, BoundaryLevel
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.geo.boundaries import from_geojson, to_geojson
from app.surveys.models import Campaign, CampaignKind, SurveyUnit

MY_UNITS_SHOWN = 200  # the home page's "my survey units" (each saved for offline use) lists at most these

KIND_LABELS = {
    CampaignKind.CENSUS: _l("Census (普查)"),
    CampaignKind.MONITORING: _l("Monitoring (监测)"),
    CampaignKind.SPECIAL: _l("Special survey (专项调查)"),
}


# ---------------------------------------------------------------------------------------------------
# Reading


def get_campaign(campaign_id: int) -> Campaign:
    """The campaign with this id; NotFound (404) when there is none."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_("No campaign with id %(id)s.", id=campaign_id))
    return campaign


def takes_part(user: User, campaign: Campaign) -> bool:
    """Whether `user` works on the campaign: an admin, staff of its bureau or of a unit under it, or
    the assignee of one of its units."""
    ids = acting_ids(user)
    if ids is None or user.organization_id in unit_ids(campaign.organization_id):
        return True
    return any(unit.assignee_id == user.id for unit in campaign.units)


def campaign_for(actor: User, campaign_id: int, field: str = "campaign_id") -> Campaign:
    """The campaign a route, plot or record of `actor` says it belongs to (the body's `field`).

    Raises InvalidInput naming `field` when there is no such campaign or `actor` takes no part in it
    (see takes_part); a record of one bureau cannot be counted towards another bureau's campaign."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise InvalidInput.field(field, _("No campaign with id %(id)s.", id=campaign_id))
    if not takes_part(actor, campaign):
        raise InvalidInput.field(
            field,
            _(
                "%(name)s is a campaign of %(bureau)s; you take no part in it.",
                name=campaign.name,
                bureau=campaign.organization.name,
            ),
        )
    return campaign


def units_query(campaign: Campaign) -> sa.Select[tuple[SurveyUnit]]:
    """The campaign's units in code order (a township before its villages), assignees loaded."""
    return (
        sa.select(SurveyUnit)
        .options(joinedload(SurveyUnit.assignee))
        .where(SurveyUnit.campaign_id == campaign.id)
        .order_by(SurveyUnit.unit_code, SurveyUnit.id)
    )


def units_of(campaign: Campaign) -> list[SurveyUnit]:
    """The campaign's units in code order (a township before its villages), with their places and
    assignees loaded."""
    return list(db.session.scalars(units_query(campaign)))


def my_units_query(user: User, today: date | None = None) -> sa.Select[tuple[SurveyUnit]]:
    """The units assigned to `user` in campaigns that have not ended (today in Asia/Shanghai): running
    ones and those about to start, soonest due first (undated last)."""
    today = today or local_today()
    return (
        sa.select(SurveyUnit)
        .join(SurveyUnit.campaign)
        .options(joinedload(SurveyUnit.campaign))
        .where(SurveyUnit.assignee_id == user.id, Campaign.ends_on >= today)
        .order_by(
            sa.case((SurveyUnit.due_on.is_(None), 1), else_=0),
            SurveyUnit.due_on,
            Campaign.starts_on,
            SurveyUnit.unit_code,
            SurveyUnit.id,
        )
    )


def my_units(user: User, today: date | None = None) -> list[SurveyUnit]:
    """The units assigned to `user` in campaigns that have not ended (my_units_query), at most
    MY_UNITS_SHOWN of them (the home page lists them all)."""
    return list(db.session.scalars(my_units_query(user, today).limit(MY_UNITS_SHOWN)))


def filtered_campaigns(filters: dict[str, Any]) -> sa.Select[tuple[Campaign]]:
    """Campaigns, the latest first: of a bureau (`organization_id`), of a kind, running on a day."""
    stmt = sa.select(Campaign).options(selectinload(Campaign.units))
    if "organization_id" in filters:
        stmt = stmt.where(Campaign.organization_id == filters["organization_id"])
    if "kind" in filters:
        stmt = stmt.where(Campaign.kind == filters["kind"])
    if "active_on" in filters:
        day = filters["active_on"]
        stmt = stmt.where(Campaign.starts_on <= day, Campaign.ends_on >= day)
    return stmt.order_by(Campaign.starts_on.desc(), Campaign.id.desc())


def bureau_by_code(code: str, field: str = "bureau") -> Organization:
    organization = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    if organization is None:
        raise InvalidInput.field(field, _("No organization has the code %(code)s.", code=code))
    return organization


def managed_bureaus(user: User) -> list[Organization]:
    """The bureaus whose campaigns `user` may plan (the form's choices)."""
    if not policy.manages_campaigns(user):
        return []
    bureaus = db.session.scalars(sa.select(Organization).order_by(Organization.name)).all()
    return [b for b in bureaus if b.is_bureau and policy.may_manage_campaigns_of(user, b.id)]


def assignable_users(campaign_or_bureau_id: int) -> list[User]:
    """Who may be assigned a unit of a campaign of that bureau: its active staff and its units'."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organization_id.in_(sorted(unit_ids(campaign_or_bureau_id))), User.active.is_(True))
            .order_by(User.display_name, User.id)
        )
    )


# The outline of a unit drawn on a phone's small map: simplified to about 20 m, coordinates to ~1 m.
OUTLINE_TOLERANCE_DEG = 0.0002


def unit_outlines(units: Sequence[SurveyUnit]) -> dict[str, Any]:
    """The units' loaded boundaries as one GeoJSON FeatureCollection (properties: unit id, code, name),
    simplified for a small map; units whose level has no boundaries loaded are left out (an empty
    collection without boundaries: the map then only lists the units)."""
    codes = {u.unit_code: u for u in units}
    features: list[dict[str, Any]] = []
    if codes:
        rows = db.session.execute(
            sa.select(Boundary.code, Boundary.geometry).where(
                Boundary.code.in_(sorted(codes)),
                Boundary.level.in_([BoundaryLevel.TOWNSHIP, BoundaryLevel.VILLAGE]),
            )
        ).all()
        for code, geometry in rows:
            unit = codes[code]
            shape = shapely.simplify(from_geojson(geometry), OUTLINE_TOLERANCE_DEG, preserve_topology=True)
            if shape.is_empty:
                continue
            shape = shapely.set_precision(shape, 0.00001)
            features.append(
                {
                    "type": "Feature",
                    "geometry": to_geojson(shape),
                    "properties": {
                        "unit_id": unit.id,
                        "code": code,
                        "name": unit.village.short_name if unit.village else unit.township.name_zh,
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}
