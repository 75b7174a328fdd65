"""The census answers the events of the domains below it (app/events.py): accounts, about to change the
bureau a unit reports to, asks how many records the unit holds. A bureau's census is its organization tree
as it is now (app/census/scope.py), so a unit that holds any keeps its bureau (docs/census.md, "Moving a
unit"): its figures, counted and signed, would otherwise move with it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from app import events
from app.accounts.events import UnitMoving
from app.control.models import ControlOperation, FollowUp
from app.extensions import db
from app.observations.models import Observation
from app.sites.models import Site
from app.surveys.models import Campaign, Plot, Route

# Everything an organization owns that a census, a coverage figure or a workbook counts for its bureau.
COUNTED = (Observation, ControlOperation, FollowUp, Site, Campaign, Route, Plot)


def records_held(organization_ids: tuple[int, ...]) -> int:
    """How many records (of every kind in COUNTED) the organizations hold: one query."""
    if not organization_ids:
        return 0
    counts = [
        sa.select(sa.func.count())
        .select_from(model)
        .where(model.organization_id.in_(organization_ids))
        .scalar_subquery()
        for model in COUNTED
    ]
    return int(db.session.scalar(sa.select(sum(counts[1:], counts[0]))) or 0)


def on_unit_moving(event: UnitMoving) -> int:
    return records_held(event.organization_ids)


def init_app(app: Flask) -> None:
    events.subscribe(UnitMoving, on_unit_moving)
