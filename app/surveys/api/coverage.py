"""Surveys API: a campaign's coverage, as figures and as a map (docs/surveys.md, Coverage)."""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from app.accounts.organizations import acting_ids
from app.surveys import coverage, coverage_map
from app.surveys.api import blp
from app.surveys.schemas.coverage import CoverageSchema


@blp.route("/campaigns/<int:campaign_id>/coverage")
class CampaignCoverage(MethodView):
    @blp.response(200, CoverageSchema)
    def get(self, campaign_id: int) -> coverage.Coverage:
        """A campaign's coverage: each unit's status (covered, in progress, not started; overdue) with
        its routes and records, and the tallies per assignee and per township"""
        return coverage.compute(coverage.get_campaign(campaign_id))


@blp.route("/campaigns/<int:campaign_id>/coverage/geojson")
class CampaignCoverageGeoJSON(MethodView):
    @blp.response(
        200,
        description="A GeoJSON FeatureCollection: units (kind unit, with status), routes "
        "(kind route, simplified lines) and records (kind record)",
    )
    def get(self, campaign_id: int) -> dict:  # type: ignore[type-arg]
        """A campaign's coverage for the map: unit outlines coloured by status when boundaries are
        loaded (else the points of their records), routes drawn as simplified lines — those of the
        organizations the caller acts for (a route is read by its bureau's staff); the others count in
        the units' figures only"""
        return coverage_map.geojson(
            coverage.compute(coverage.get_campaign(campaign_id)), acting_ids(current_user)
        )
