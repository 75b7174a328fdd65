"""Flags: what may be right but deserves a second look (low accuracy, township mismatch, a likely
duplicate, a photo taken far away)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.geo.crs import distance_m
from app.observations.checks import Checked, polygon_area
from app.observations.models import Flag, Observation
from app.sites.services import closest, degree_box


def update_flags(
    observation: Observation,
    checked: Checked,
    find_duplicate: Callable[[Observation], int | None] | None = None,
) -> None:
    """Set the record's flags; `find_duplicate` when the caller has already searched (one query with the
    site search, app/observations/create.py)."""
    config = current_app.config
    accuracy = observation.accuracy_m
    observation.set_flag(
        Flag.LOW_ACCURACY, accuracy is not None and accuracy > float(config["IAS_GPS_ACCURACY_LIMIT_M"])
    )
    observation.set_flag(Flag.TOWNSHIP_MISMATCH, checked.township_mismatch)
    observation.set_flag(Flag.VILLAGE_MISMATCH, checked.village_mismatch)
    observation.set_flag(Flag.AREA_MISMATCH, polygon_area(checked.values, checked.polygon)[1])
    observation.set_flag(Flag.SITE_TOWNSHIP_MISMATCH, site_township_differs(observation))
    observation.duplicate_of_id = (find_duplicate or likely_duplicate)(observation)
    observation.set_flag(Flag.POSSIBLE_DUPLICATE, observation.duplicate_of_id is not None)
    if observation.id is not None:
        refresh_photo_flag(observation)


def site_township_differs(observation: Observation) -> bool:
    """The record names a township, and the site it joined was opened in another one: one of the two was
    probably picked wrong (without township polygons loaded nothing else tells), so a verifier looks."""
    site, township = observation.site, observation.township
    return site is not None and township is not None and site.township_id not in (None, township.id)


def refresh_photo_flag(observation: Observation) -> None:
    """Measure each photo's own GPS against the recorded position; flag the record when one is far."""
    limit = float(current_app.config["IAS_PHOTO_GPS_MAX_DISTANCE_M"])
    far = False
    for photo in observation.photos:
        if photo.gps_latitude is None or photo.gps_longitude is None:
            continue
        photo.gps_distance_m = round(
            distance_m(observation.longitude, observation.latitude, photo.gps_longitude, photo.gps_latitude),
            1,
        )
        far = far or photo.gps_distance_m > limit
    observation.set_flag(Flag.PHOTO_GPS_FAR, far)


DUPLICATE_CANDIDATES = 50


def new_duplicate_candidates() -> sa.Select[Any]:
    """`duplicate_candidates` of a record not yet written, with bind parameters (`duplicate_params`): a
    statement the create path builds once (app/observations/create.py)."""
    records = Observation.__table__
    return (
        sa.select(records.c.id, records.c.longitude, records.c.latitude)
        .where(
            records.c.species_id == sa.bindparam("dup_species_id"),
            records.c.detected == sa.bindparam("dup_detected"),
            records.c.observed_at.between(sa.bindparam("dup_from"), sa.bindparam("dup_to")),
            records.c.latitude.between(sa.bindparam("dup_min_lat"), sa.bindparam("dup_max_lat")),
            records.c.longitude.between(sa.bindparam("dup_min_lon"), sa.bindparam("dup_max_lon")),
        )
        .order_by(records.c.id)
        .limit(DUPLICATE_CANDIDATES)
    )


def duplicate_params(observation: Observation) -> dict[str, Any]:
    """The parameters of `new_duplicate_candidates` for `observation`: its species and finding, the hours
    around it and the box around its point."""
    config = current_app.config
    radius = float(config["IAS_DUPLICATE_RADIUS_M"])
    window = timedelta(hours=float(config["IAS_DUPLICATE_HOURS"]))
    min_lon, min_lat, max_lon, max_lat = degree_box(observation.longitude, observation.latitude, radius)
    return {
        "dup_species_id": observation.species_id,
        "dup_detected": observation.detected,
        "dup_from": observation.observed_at - window,
        "dup_to": observation.observed_at + window,
        "dup_min_lat": min_lat,
        "dup_max_lat": max_lat,
        "dup_min_lon": min_lon,
        "dup_max_lon": max_lon,
    }


def duplicate_candidates(observation: Observation) -> sa.Select[int, float, float]:
    """Ids and points of earlier-created records of the same species and finding a few hours away, in
    the box around the record: the candidates `closest_duplicate` measures (no entity loads, no joins)."""
    stmt = new_duplicate_candidates()
    if observation.id is not None:
        stmt = stmt.where(Observation.__table__.c.id < observation.id)
    return stmt.params(duplicate_params(observation))


def closest_duplicate(observation: Observation, rows: Iterable[Sequence[Any]]) -> int | None:
    radius = float(current_app.config["IAS_DUPLICATE_RADIUS_M"])
    return closest(rows, observation.longitude, observation.latitude, radius)


def likely_duplicate(observation: Observation) -> int | None:
    """The id of an earlier-created record of the same species and finding a few metres and hours away."""
    return closest_duplicate(observation, db.session.execute(duplicate_candidates(observation)))
