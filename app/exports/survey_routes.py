"""The census workbook's survey campaign parts (docs/census.md, Survey campaigns): the 踏查记录 sheet (one
row per route walked), the `campaign_id` an export may be narrowed to, and the cover's line naming it.

The rows follow the export's scope (app/exports/rows.py): routes of the exported bureau and its units (every
route for the district), started in the export's days, of the campaign when the export names one. A route's
records and species found are its records in the export (same review statuses and filters), so the sheet
agrees with the 调查记录 sheet beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import Organization, User
from app.accounts.organizations import unit_ids
from app.clock import day_end, day_start, local_zone
from app.district.models import Township, Village
from app.errors import InvalidInput
from app.extensions import db
from app.observations.models import Observation
from app.species.models import Species
from app.surveys.coverage_reading import campaign_records
from app.surveys.models import Campaign, CampaignKind, Route, SurveyUnit

if TYPE_CHECKING:  # rows.Scope narrows observations with campaign_condition below
    from app.exports.rows import Scope

KIND_ZH = {CampaignKind.CENSUS: "普查", CampaignKind.MONITORING: "监测", CampaignKind.SPECIAL: "专项调查"}


def check_campaign(campaign_id: int, organization_id: int | None) -> Campaign:
    """The campaign an export names: it must exist and be the exported bureau's (or a unit's under it);
    the district's census may name any. InvalidInput names `campaign_id`."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise InvalidInput.field("campaign_id", _("No survey campaign with id %(id)s.", id=campaign_id))
    if organization_id is not None and campaign.organization_id not in unit_ids(organization_id):
        raise InvalidInput.field(
            "campaign_id", _("The survey campaign %(id)s is not the exported bureau's.", id=campaign_id)
        )
    return campaign


def campaign_condition(filters: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    """The condition on observations for an export narrowed to a campaign (none otherwise)."""
    if filters.get("campaign_id") is None:
        return []
    return [campaign_records(int(filters["campaign_id"]))]


def campaign_cover_line(filters: dict[str, Any]) -> list[tuple[str, Any]]:
    """The cover's 调查任务 line when the export is for one campaign."""
    if filters.get("campaign_id") is None:
        return []
    campaign = db.session.get(Campaign, int(filters["campaign_id"]))
    if campaign is None:
        return [("调查任务", f"#{filters['campaign_id']}")]
    window = f"{campaign.starts_on.isoformat()}—{campaign.ends_on.isoformat()}"
    return [("调查任务", f"{campaign.name}（{KIND_ZH.get(campaign.kind, campaign.kind.value)}，{window}）")]


def campaign_filter_text(value: Any) -> str:
    """The campaign as the cover's 筛选条件 names it."""
    name = db.session.scalar(sa.select(Campaign.name).where(Campaign.id == int(value)))
    return name or f"#{value}"


def _route_conditions(scope: Scope) -> list[sa.ColumnElement[bool]]:
    census = scope.census
    conditions: list[sa.ColumnElement[bool]] = []
    if census.organization_ids is not None:
        conditions.append(Route.organization_id.in_(sorted(census.organization_ids)))
    if census.date_from:
        conditions.append(Route.started_at >= day_start(census.date_from))
    if census.date_to:
        conditions.append(Route.started_at < day_end(census.date_to))
    if scope.filters.get("campaign_id") is not None:
        conditions.append(Route.campaign_id == int(scope.filters["campaign_id"]))
    return conditions


def _records_by_route(scope: Scope) -> dict[tuple[str, int], tuple[int, list[str]]]:
    """(route UUID, organization) → (records in the export, species found present): one statement."""
    rows = db.session.execute(
        sa.select(Observation.route_uuid, Observation.organization_id, Observation.detected, Species.name_zh)
        .join(Species, Species.id == Observation.species_id)
        .where(Observation.route_uuid.is_not(None), Observation.id.in_(scope.observation_ids()))
        .order_by(Observation.observed_at, Observation.id)
    ).all()
    found: dict[tuple[str, int], tuple[int, list[str]]] = {}
    for route_uuid, organization_id, detected, name in rows:
        count, species = found.get((str(route_uuid), organization_id), (0, []))
        if detected and name not in species:
            species = [*species, name]
        found[(str(route_uuid), organization_id)] = (count + 1, species)
    return found


def route_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """One row per route walked in the export's scope (plain columns, streamed)."""
    records = _records_by_route(scope)
    stmt = (
        sa.select(
            Route.id,
            Route.client_uuid,
            Route.organization_id,
            Campaign.name,
            SurveyUnit.unit_code,
            Village.short_name,
            Township.name_zh,
            Route.started_at,
            Route.ended_at,
            User.display_name,
            Organization.name,
            Route.length_m,
            Route.moving_s,  # the survey effort: the pauses left out (docs/surveys.md)
            Route.point_count,
            Route.poor_point_count,
            Route.notes,
        )
        .join(User, User.id == Route.surveyor_id)
        .join(Organization, Organization.id == Route.organization_id)
        .outerjoin(Campaign, Campaign.id == Route.campaign_id)
        .outerjoin(SurveyUnit, SurveyUnit.id == Route.unit_id)
        .outerjoin(Township, Township.id == SurveyUnit.township_id)
        .outerjoin(Village, Village.id == SurveyUnit.village_id)
        .where(*_route_conditions(scope))
        .order_by(Route.started_at, Route.id)
        .execution_options(yield_per=2000)
    )
    zone = local_zone()
    for row in db.session.connection().execute(stmt):
        (
            id_, client_uuid, organization_id, campaign, unit_code, village, township, started_at, ended_at,
            surveyor, organization, length_m, moving_s, points, poor, notes,
        ) = row  # fmt: skip
        count, species = records.get((str(client_uuid), organization_id), (0, []))
        started = started_at.astimezone(zone)
        yield {
            "id": id_,
            "client_uuid": str(client_uuid),
            "campaign": campaign,
            "unit_code": unit_code,
            "unit_name": "".join(p for p in (township, village) if p) or None,
            "township_name": township,
            "date": started.date(),
            "started_at": started,
            "ended_at": ended_at.astimezone(zone),
            "surveyor": surveyor,
            "organization": organization,
            "length_km": round((length_m or 0.0) / 1000.0, 3),
            "duration_min": round((moving_s or 0) / 60.0, 1),
            "point_count": points,
            "poor_point_count": poor,
            "records": count,
            "species_found": "、".join(species) or None,
            "notes": notes,
        }
