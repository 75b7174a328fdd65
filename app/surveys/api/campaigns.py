"""Surveys API: campaigns and their units (docs/surveys.md, Campaigns; docs/contract.md §3.2)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from app.api import PageArgs, page_of, paginate
from app.district.services import parse_unit_code
from app.errors import FieldErrors, InvalidInput
from app.messages import invalid_fields_message
from app.surveys import campaign_queries as queries
from app.surveys import campaigns as services
from app.surveys.api import blp
from app.surveys.models import Campaign, SurveyUnit
from app.surveys.schemas.campaigns import (
    READ_ONLY,
    UNIT_ITEM_READ_ONLY,
    UNIT_READ_ONLY,
    CampaignCreateArgs,
    CampaignDetailSchema,
    CampaignPatchArgs,
    CampaignQueryArgs,
    CampaignSchema,
    MySurveyUnitSchema,
    SurveyUnitSchema,
    UnitPatchArgs,
    UnitUpdateArgs,
)

# Read-only fields no PATCH can change: checked even when the PATCH is refused for something else.
_FIXED = frozenset({"id", "created_by_id", "created_at", "updated_at", "campaign_id"})


def _take_read_only(args: dict[str, Any]) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The read-only fields sent (the campaign's; each unit's by its index), taken out of `args`."""
    sent = {name: args.pop(name) for name in READ_ONLY if name in args}
    units: dict[int, dict[str, Any]] = {}
    for index, unit in enumerate(args.get("units") or []):
        fields = {name: unit.pop(name) for name in UNIT_READ_ONLY if name in unit}
        if fields:
            units[index] = fields
    return sent, units


def _unit_code(unit: dict[str, Any]) -> str | None:
    """The code a unit of the PATCH's list is kept by (as app/surveys/campaigns.py reads it)."""
    text = (unit.get("village_code") or unit.get("township_code") or "").strip()
    try:
        code = parse_unit_code(text)
    except InvalidInput:
        return None
    return None if code is None else (code.village or code.township)


def _normal(field: ma.fields.Field[Any], value: Any) -> Any:
    """A value GET answered, as the PATCH schema loads it (a time in UTC, a nested object as a dict)."""
    if value is None:
        return None
    try:
        return field.deserialize(value)
    except ma.ValidationError:  # pragma: no cover - GET answers what the schema loads
        return value


def _compare(
    sent: dict[str, Any],
    schema: ma.Schema,
    stored: dict[str, Any] | None,
    changed: dict[str, Any] | None,
    prefix: str,
    faults: FieldErrors,
) -> None:
    for name, value in sent.items():
        field = schema.fields[name]
        allowed = [_normal(field, known[name]) for known in (stored, changed) if known is not None]
        if value not in allowed:
            faults[f"{prefix}{name}"] = [_("read-only: %(field)s cannot be changed", field=name)]


def _read_only_faults(
    sent: dict[str, Any],
    sent_units: dict[int, dict[str, Any]],
    units: list[dict[str, Any]],
    stored: dict[str, Any],
    changed: dict[str, Any] | None,
) -> FieldErrors:
    """The read-only fields sent that equal neither the stored value nor the one this PATCH gives them
    (`changed` None: the PATCH was refused, so only the fields no PATCH changes are judged)."""
    faults: FieldErrors = {}
    if changed is None:
        sent = {k: v for k, v in sent.items() if k in _FIXED}
        sent_units = {i: {k: v for k, v in u.items() if k in _FIXED} for i, u in sent_units.items()}
    _compare(sent, CampaignPatchArgs(), stored, changed, "", faults)
    stored_units = {u["unit_code"]: u for u in stored["units"]}
    changed_units = {u["unit_code"]: u for u in changed["units"]} if changed is not None else {}
    unit_schema = UnitPatchArgs()
    for index, fields in sent_units.items():
        code = _unit_code(units[index])
        before, after = stored_units.get(code or ""), changed_units.get(code or "")
        if changed is None and before is None:
            continue  # a new unit: nothing of it is stored yet
        _compare(fields, unit_schema, before, after, f"units.{index}.", faults)
    return faults


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


_ETAG_HEADER = {
    "ETag": {
        "description": "the campaign as read: it changes with every change of the campaign or its units; "
        "send it back as If-Match with a PATCH",
        "schema": {"type": "string"},
    }
}
_IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "the ETag of the GET the change was made from: when the campaign was changed since "
    "(by anyone, its units too), the PATCH is refused with 412 and nothing is written. Optional: a PATCH "
    "without it (nor `updated_at`) changes the campaign as it is.",
}


_UNIT_IF_MATCH = {
    **_IF_MATCH,
    "description": "the campaign's ETag (GET /campaigns/{id}, or a PATCH's answer) the change was made "
    "from: when the campaign was changed since (by anyone, any of its units too), the PATCH is refused "
    "with 412 and nothing is written. Optional: a PATCH without it changes the unit as it is.",
}


def _etag(campaign: Campaign) -> dict[str, str]:
    return {"ETag": f'"{services.version_tag(campaign)}"'}


def _hold_if_match(campaign: Campaign) -> None:
    """A PATCH with If-Match changes the campaign only as the client read it (docs/surveys.md)."""
    if not request.if_match:
        return
    tag = services.version_tag(campaign)
    if not (request.if_match.star_tag or request.if_match.contains(tag)):
        services.refuse_stale(campaign, field="If-Match")
    services.hold_unchanged(campaign, campaign.updated_at, field="If-Match")


@blp.route("/campaigns/<int:campaign_id>")
class CampaignItem(MethodView):
    @blp.response(200, CampaignDetailSchema, headers=_ETAG_HEADER)
    def get(self, campaign_id: int) -> tuple[Campaign, int, dict[str, str]]:
        """One campaign with its target species and units

        Answered with an ETag (the campaign as read, its units included): send it back as If-Match
        with a PATCH so that a change made meanwhile by someone else is not overwritten.
        """
        campaign = queries.get_campaign(campaign_id)
        return campaign, 200, _etag(campaign)

    @blp.arguments(CampaignPatchArgs)
    @blp.response(200, CampaignDetailSchema, headers=_ETAG_HEADER)
    @blp.alt_response(
        409, description="The `updated_at` sent is not the campaign's: changed since it was read"
    )
    @blp.alt_response(
        412, description="If-Match does not name the campaign as it is: changed since it was read"
    )
    @blp.doc(parameters=[_IF_MATCH])
    def patch(self, args: dict[str, Any], campaign_id: int) -> tuple[Campaign, int, dict[str, str]]:
        """Change a campaign (its bureau's supervisors and bureau admins; admins)

        `units`, when sent, is the whole new list: a unit kept (same code) keeps its id; one left out
        is removed, unless routes were walked in it (422 on `units`). What GET answered may be sent
        back whole: its read-only fields (`id`, `bureau_name`, `species`, `unit_count`, `created_at` …,
        a unit's `id`, `unit_code`, `level`, `township_name`, `assignee` …) are ignored when they equal
        the stored value (or the value this PATCH gives them), and refused (422 naming the field, e.g.
        `unit_count`, `units.2.id`) when they do not.

        Two planners at once: a PATCH made from an old GET is refused when the campaign (or any of its
        units) was changed since, and nothing of it is written: with `If-Match` (GET's ETag) a 412
        naming `If-Match`; with GET's `updated_at` sent back in the body, a 409 naming `updated_at`.
        A PATCH with neither changes the campaign as it is now, as before.
        """
        if not args:
            raise InvalidInput(_("Send at least one field to change."), {"_schema": [_("empty body")]})
        campaign = queries.get_campaign(campaign_id)
        stored = CampaignDetailSchema().dump(campaign)
        sent, sent_units = _take_read_only(args)
        services.check_manager(current_user, campaign)  # who may not change it is told so first
        _hold_if_match(campaign)
        if "updated_at" in sent:  # the campaign as the client read it: judged here, not as read-only
            services.hold_unchanged(campaign, sent.pop("updated_at"), field="updated_at")
        units = args.get("units") or []
        try:
            services.update_campaign(actor=current_user, campaign=campaign, changes=args)
        except InvalidInput as exc:
            faults = _read_only_faults(sent, sent_units, units, stored, None)
            if not faults:
                raise
            errors = {**exc.errors, **faults}
            raise InvalidInput(invalid_fields_message(errors), errors) from exc
        faults = _read_only_faults(sent, sent_units, units, stored, CampaignDetailSchema().dump(campaign))
        if faults:
            raise InvalidInput(invalid_fields_message(faults), faults)
        return campaign, 200, _etag(campaign)


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
    @blp.response(200, SurveyUnitSchema, headers=_ETAG_HEADER)
    @blp.alt_response(
        412, description="If-Match does not name the campaign as it is: changed since it was read"
    )
    @blp.doc(parameters=[_UNIT_IF_MATCH])
    def patch(
        self, args: dict[str, Any], campaign_id: int, unit_id: int
    ) -> tuple[SurveyUnit, int, dict[str, str]]:
        """Reassign a unit or move its due date (within the window); null clears either

        The unit as GET /campaigns/{id}/units answered it may be sent back: its read-only fields are
        ignored when they equal the stored value (or the value this PATCH gives them, e.g. `assignee`),
        and refused (422 naming the field) when they do not.

        A unit's change is its campaign's: with `If-Match` (the campaign's ETag, from GET
        /campaigns/{id} or a PATCH's answer) a PATCH made from an old read is refused with 412 naming
        `If-Match`, and nothing is written; without it the unit is changed as it is. Answered with the
        campaign's new ETag.
        """
        campaign = queries.get_campaign(campaign_id)
        unit = services.get_unit(campaign, unit_id)
        services.check_manager(current_user, campaign)  # who may not change it is told so first
        _hold_if_match(campaign)
        sent = {name: args.pop(name) for name in UNIT_ITEM_READ_ONLY if name in args}
        stored = SurveyUnitSchema().dump(unit)
        schema = UnitUpdateArgs()
        faults: FieldErrors = {}
        try:
            services.update_unit(actor=current_user, unit=unit, changes=args)
        except InvalidInput as exc:
            _compare({k: v for k, v in sent.items() if k in _FIXED}, schema, stored, None, "", faults)
            if not faults:
                raise
            errors = {**exc.errors, **faults}
            raise InvalidInput(invalid_fields_message(errors), errors) from exc
        _compare(sent, schema, stored, SurveyUnitSchema().dump(unit), "", faults)
        if faults:
            raise InvalidInput(invalid_fields_message(faults), faults)
        return unit, 200, _etag(campaign)


@blp.route("/me/survey-units")
class MySurveyUnits(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(MySurveyUnitSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's units in campaigns that have not ended, soonest due first"""
        return paginate(queries.my_units_query(current_user), page=args["page"], per_page=args["per_page"])
