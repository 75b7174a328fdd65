"""A campaign's coverage, the reading part (docs/surveys.md, Coverage): one statement per kind (its
units, routes and records), the records that are the campaign's (`campaign_records`), and the stored
tracks read straight into arrays and cut at their pauses. The judging is app/surveys/coverage.py's, the
map app/surveys/coverage_map.py's."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.district.models import Township, Village
from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.surveys.models import Route, SurveyUnit


def campaign_records(campaign_id: int) -> sa.ColumnElement[bool]:
    """The condition on observations that makes a record the campaign's: its `campaign_id`, or made
    along one of the campaign's routes (the route's client UUID, in the route's organization)."""
    along_route = (
        sa.select(sa.literal(1))
        .where(
            Route.campaign_id == campaign_id,
            Route.client_uuid == Observation.route_uuid,
            Route.organization_id == Observation.organization_id,
        )
        .exists()
    )
    return sa.or_(
        Observation.campaign_id == campaign_id, sa.and_(Observation.route_uuid.is_not(None), along_route)
    )


# ---------------------------------------------------------------------------------------------
# Reading (one statement per kind)


def unit_rows(campaign_id: int) -> list[Any]:
    assignee = aliased(User)
    return list(
        db.session.execute(
            sa.select(
                SurveyUnit.id,
                SurveyUnit.unit_code,
                SurveyUnit.township_id,
                SurveyUnit.village_id,
                SurveyUnit.assignee_id,
                SurveyUnit.due_on,
                Township.code.label("township_code"),
                Township.name_zh.label("township_name"),
                Village.short_name.label("village_name"),
                Village.code.label("village_code"),
                assignee.display_name.label("assignee_name"),
            )
            .join(Township, Township.id == SurveyUnit.township_id)
            .outerjoin(Village, Village.id == SurveyUnit.village_id)
            .outerjoin(assignee, assignee.id == SurveyUnit.assignee_id)
            .where(SurveyUnit.campaign_id == campaign_id)
            .order_by(Township.code, SurveyUnit.unit_code)
        ).all()
    )


def route_rows(campaign_id: int) -> list[Any]:
    return list(
        db.session.execute(
            sa.select(
                Route.id,
                Route.client_uuid,
                Route.organization_id,
                Route.surveyor_id,
                User.display_name.label("surveyor_name"),
                Route.unit_id,
                Route.started_at,
                Route.ended_at,
                Route.length_m,
                Route.moving_s,
                # As text, parsed by track_coordinates: a 10 000-point track decoded as JSON into Python
                # lists costs ten times more than its numbers read straight into an array.
                sa.cast(Route.geometry, sa.Text).label("geometry"),
            )
            .join(User, User.id == Route.surveyor_id)
            .where(Route.campaign_id == campaign_id)
            .order_by(Route.started_at, Route.id)
        ).all()
    )


def record_rows(campaign_id: int) -> list[Any]:
    return list(
        db.session.execute(
            sa.select(
                Observation.id,
                Observation.longitude,
                Observation.latitude,
                Observation.township_id,
                Observation.village_id,
                Observation.detected,
                Observation.species_id,
                Observation.observed_at,
            )
            .where(campaign_records(campaign_id), Observation.status != ReviewStatus.REJECTED)
            .order_by(Observation.observed_at, Observation.id)
        ).all()
    )


# ---------------------------------------------------------------------------------------------
# Tracks


_BRACKETS = str.maketrans("[]", "  ")


def track_coordinates(text: str | None) -> np.ndarray | None:
    """A stored LineString (GeoJSON text) as an (n, 2) array of lon, lat; None when it is not one.

    The numbers are read straight into an array (numpy's C parser) rather than decoded into Python lists."""
    if not text or '"LineString"' not in text:
        return None
    start = text.find('"coordinates"')
    if start < 0:
        return None
    body = text[text.find("[", start) : text.rfind("]") + 1]
    positions = body.count("[") - 1
    if positions < 1:
        return None
    numbers = np.fromstring(body.translate(_BRACKETS), sep=",")
    if numbers.size % positions:
        return None
    return numbers.reshape(positions, -1)[:, :2]


_GAPS = re.compile(r'"gaps"\s*:\s*\[([0-9,\s]*)\]')


def track_gaps(text: str | None) -> list[int]:
    """The segments of a stored line that span a pause (its `gaps`, written before its coordinates)."""
    if not text or '"gaps"' not in text:
        return []
    head = text[: text.find('"coordinates"')] if '"coordinates"' in text else text
    match = _GAPS.search(head)
    return [int(n) for n in match.group(1).split(",") if n.strip()] if match else []


def walked_line(coordinates: np.ndarray | None, gaps: list[int] | None = None) -> Any:
    """The track as walked: a line, or, split at its gaps (segments across a pause, not walked), the
    pieces walked (a lone fix between two pauses as a point)."""
    if coordinates is None or not len(coordinates):
        return None
    if len(coordinates) == 1:
        return shapely.points(coordinates[0])
    cuts = sorted({i for i in gaps or () if 0 <= i < len(coordinates) - 1})
    if not cuts:
        return shapely.linestrings(coordinates)
    pieces, start = [], 0
    for i in [*cuts, len(coordinates) - 1]:
        part = coordinates[start : i + 1]
        pieces.append(shapely.linestrings(part) if len(part) > 1 else shapely.points(part[0]))
        start = i + 1
    return shapely.geometrycollections(pieces)
