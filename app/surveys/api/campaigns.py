"""Surveys API: campaigns and their units (docs/surveys.md, Campaigns; docs/contract.md §3.2)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from app.api import PageArgs, page_of, paginate
from app.errors import InvalidInput
from app.surveys import campaign_queries as queries
from app.surveys import campaigns as services
from app.surveys.api import blp
from app.surveys.models import Campaign, SurveyUnit
from app.surveys.schemas.campaigns import (
    CampaignArgs,
    CampaignCreateArgs,
    CampaignDetailSchema,
    CampaignQueryArgs,
    CampaignSchema,
    MySurveyUnitSchema,
    SurveyUnitSchema,
    UnitUpdateArgs,
)


@blp.route("/campaigns")
class Campaigns(MethodView):
    @blp.arguments(CampaignQueryArgs, location="query")
    @blp.response(200, page_of(CampaignSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Survey campaigns (调查任务), the latest first; every signed-in user may read them"""
        filters = {k: v for k, v in args.items() if k in {"kind", "active_on"}}
        if "bureau" in args:
            filters["organization_id"] = queries.bureau_by_code(args["bureau"]).id
        return paginate(queries.filtered_campaigns(filters), page=args["page"], per_page=args["per_page"])

    @blp.arguments(CampaignCreateArgs)
    @blp.response(201, CampaignDetailSchema)
    def post(self, args: dict[str, Any]) -> Campaign:
        """Plan a campaign: window, target species, units with assignees and due dates

        Supervisors and bureau admins of the bureau (`bureau`, default the caller's), admins of any.
        A unit is a township (`township_code`) or one of its villages (`village_code`); its assignee
        works for the bureau or a unit under it; its due date lies within the window. Bad units are
        answered 422 naming the unit, e.g. `units.3.assignee_id`.
        """
        return services.create_campaign(actor=current_user, args=args)


@blp.route("/campaigns/<int:campaign_id>")
class CampaignItem(MethodView):
    @blp.response(200, CampaignDetailSchema)
    def get(self, campaign_id: int) -> Campaign:
        """One campaign with its target species and units"""
        return queries.get_campaign(campaign_id)

    @blp.arguments(CampaignArgs)
    @blp.response(200, CampaignDetailSchema)
    def patch(self, args: dict[str, Any], campaign_id: int) -> Campaign:
        """Change a campaign (its bureau's supervisors and bureau admins; admins)

        `units`, when sent, is the whole new list: a unit kept (same code) keeps its id; one left out
        is removed, unless routes were walked in it (422 on `units`).
        """
        if not args:
            raise InvalidInput(_("Send at least one field to change."), {"_schema": [_("empty body")]})
        return services.update_campaign(
            actor=current_user, campaign=queries.get_campaign(campaign_id), changes=args
        )


@blp.route("/campaigns/<int:campaign_id>/units")
class CampaignUnits(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(SurveyUnitSchema))
    def get(self, args: dict[str, Any], campaign_id: int) -> dict[str, Any]:
        """The campaign's units in code order, with assignee and due date"""
        query = queries.units_query(queries.get_campaign(campaign_id))
        return paginate(query, page=args["page"], per_page=args["per_page"])


@blp.route("/campaigns/<int:campaign_id>/units/<int:unit_id>")
class CampaignUnitItem(MethodView):
    @blp.arguments(UnitUpdateArgs)
    @blp.response(200, SurveyUnitSchema)
    def patch(self, args: dict[str, Any], campaign_id: int, unit_id: int) -> SurveyUnit:
        """Reassign a unit or move its due date (within the window); null clears either"""
        campaign = queries.get_campaign(campaign_id)
        return services.update_unit(
            actor=current_user, unit=services.get_unit(campaign, unit_id), changes=args
        )


@blp.route("/me/survey-units")
class MySurveyUnits(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(MySurveyUnitSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's units in campaigns that have not ended, soonest due first"""
        return paginate(queries.my_units_query(current_user), page=args["page"], per_page=args["per_page"])
