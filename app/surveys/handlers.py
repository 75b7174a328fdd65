"""Surveys subscribes to the events of the domains below it (app/events.py): a record made for a campaign
or along a route is checked here, since observations sits below surveys and cannot ask (docs/surveys.md)."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _

from app import events
from app.accounts.models import User
from app.errors import FieldErrors, InvalidInput
from app.extensions import db
from app.messages import invalid_fields_message
from app.observations.events import ObservationRecorded
from app.surveys.routes import campaign_to_record_for, route_by_uuid


def on_observation_recorded(event: ObservationRecorded) -> None:
    """A record's campaign must exist and be one its surveyor records for; a record along a route the
    server already has must be for that route's campaign (the route may also come later: then the link
    is its client UUID alone). Raises InvalidInput naming campaign_id or route_uuid."""
    if event.campaign_id is None and event.route_uuid is None:
        return
    errors: FieldErrors = {}
    if event.campaign_id is not None:
        surveyor = db.session.get(User, event.surveyor_id)
        assert surveyor is not None  # noqa: S101 -- the record's own surveyor, signed in
        campaign_to_record_for(surveyor, event.campaign_id, errors)
    if event.route_uuid is not None and "campaign_id" not in errors:
        route = route_by_uuid(event.organization_id, event.route_uuid)
        if route is not None and event.campaign_id is not None and route.campaign_id != event.campaign_id:
            errors["route_uuid"] = [_("This route was walked for another campaign.")]
    if errors:
        raise InvalidInput(invalid_fields_message(errors), errors)


def init_app(app: Flask) -> None:
    events.subscribe(ObservationRecorded, on_observation_recorded)
