"""Recording, editing and listing observations (checks: app/observations/checks.py; flags: flags.py;
review: review.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.accounts.models import Organization, User
from app.clock import day_end, day_start
from app.district.services import find_townships, find_village
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.events import publish
from app.extensions import db
from app.geo.crs import CRS, distance_m
from app.observations.checks import METRIC_FIELDS, Checked, check_record, derived_severity, polygon_area
from app.observations.events import ObservationEdited, ObservationResubmitted
from app.observations.flags import (
    refresh_photo_flag,
    update_flags,
)
from app.observations.models import Observation, ObservationFlag, ReviewStatus
from app.observations.review import EDITABLE, STATUS_LABELS, check_editable
from app.photos import services as photos
from app.photos.models import Photo
from app.sites import services as sites
from app.sites.models import Site
from app.species.models import Habitat

STORED_FIELDS = (
    "detected",
    "observed_at",
    "accuracy_m",
    "altitude_m",
    "position_source",
    "place_name",
    "notes",
    "severity",
    *METRIC_FIELDS,
)


def _apply(observation: Observation, checked: Checked) -> None:
    values = checked.values
    for name in STORED_FIELDS:
        setattr(observation, name, values.get(name))
    observation.species = checked.species
    observation.species_id = checked.species.id  # read before the flush (duplicate check)
    observation.longitude = checked.lon
    observation.latitude = checked.lat
    observation.township = checked.township
    observation.village = checked.village
    observation.habitat = checked.habitat
    polygon = checked.polygon
    observation.geometry = None if polygon is None else polygon.geojson
    observation.geometry_area_m2 = None if polygon is None else round(polygon.area_m2, 2)
    observation.area_m2, _mismatch = polygon_area(values, polygon)
    if observation.detected and values.get("severity") is None:
        observation.severity = derived_severity(checked.species, {**values, "area_m2": observation.area_m2})


def _place(
    observation: Observation,
    checked: Checked,
    actor: User,
    nearest: Callable[[float], Site | None] | None = None,
) -> None:
    """Join the record to the nearest site of its species, or open one (presence only)."""
    observation.site = sites.site_for_record(
        species=checked.species,
        detected=observation.detected,
        lon=checked.lon,
        lat=checked.lat,
        observed_at=observation.observed_at,
        township=checked.township,
        habitat=checked.habitat,
        place_name=observation.place_name,
        actor=actor,
        nearest=nearest,
    )


def refresh_extent(site: Site | None) -> None:
    """The site's extent again from its presence records' polygons (after one of them changed)."""
    if site is None:
        return
    polygons = db.session.scalars(
        sa.select(Observation.geometry).where(
            Observation.site_id == site.id, Observation.detected.is_(True), Observation.geometry.is_not(None)
        )
    )
    sites.set_extent(site, polygons)


def latest_detections(site_id: int, n: int) -> list[bool]:
    """Whether the species was found in each of the site's `n` latest records, newest first."""
    return list(
        db.session.scalars(
            sa.select(Observation.detected)
            .where(Observation.site_id == site_id)
            .order_by(Observation.observed_at.desc(), Observation.id.desc())
            .limit(n)
        )
    )


def get_observation(observation_id: int) -> Observation:
    """Raises NotFound."""
    observation = db.session.get(Observation, observation_id)
    if observation is None:
        raise NotFound(_("No observation with id %(id)s.", id=observation_id))
    return observation


def _current_values(observation: Observation) -> dict[str, Any]:
    values = {name: getattr(observation, name) for name in STORED_FIELDS}
    values.update(
        species_id=observation.species_id,
        latitude=observation.latitude,
        longitude=observation.longitude,
        crs=CRS.WGS84,
        geometry=observation.geometry,
        township_code=observation.township.code if observation.township else None,
        habitat=observation.habitat.code if observation.habitat else None,
    )
    return values


def _already_in(observation: Observation, changes: dict[str, Any]) -> bool:
    """Whether every change is what the record holds already (coordinates in WGS-84: a retry in another
    datum is not recognised, and is refused as any edit of a reviewed record is)."""
    if changes.get("crs", CRS.WGS84) != CRS.WGS84:
        return False
    current = _current_values(observation)
    return all(
        name == "crs" or (name in current and current[name] == value) for name, value in changes.items()
    )


def update_observation(*, actor: User, observation: Observation, changes: dict[str, Any]) -> Observation:
    """Edit a record its surveyor still owns (submitted or returned); a returned one goes back for review.

    Raises PermissionDenied, Conflict (already reviewed) and InvalidInput. An edit already in the record
    (a phone's retry after a lost answer, the record reviewed in between) is answered with the record as
    it is, nothing written.
    """
    editor = policy.may_edit_record(actor, observation)
    if observation.status not in EDITABLE and editor and _already_in(observation, changes):
        return observation
    check_editable(actor=actor, observation=observation)
    values = _current_values(observation)
    if "severity" not in changes and any(f in changes for f in METRIC_FIELDS):
        values["severity"] = None  # derive it again from the new figures
    values.update(changes)
    if "geometry" not in changes:
        values["_geometry_crs"] = CRS.WGS84  # the stored polygon is WGS-84 whatever crs the edit sends
    if (
        "area_m2" not in changes
        and observation.geometry is not None
        and (observation.area_m2 == observation.geometry_area_m2)
    ):
        values["area_m2"] = None  # it was the polygon's area: measure the polygon again
    if "village_code" not in changes and observation.village is not None:
        # Kept through an edit unless the record moved to another township (then dropped, not refused).
        values.update(village_code=observation.village.code, _village_kept=True)
    if ("latitude" in changes) != ("longitude" in changes):
        raise InvalidInput.field(
            "latitude" if "longitude" in changes else "longitude",
            _("send latitude and longitude together"),
        )
    checked = check_record(values, kept_species_id=observation.species_id)
    had_polygon, site_before = observation.geometry is not None, observation.site
    moved = (
        checked.species.id != observation.species_id
        or checked.values["detected"] != observation.detected
        or distance_m(checked.lon, checked.lat, observation.longitude, observation.latitude) > 0.01
    )
    _apply(observation, checked)
    if moved:
        _place(observation, checked, actor)
    update_flags(observation, checked)
    if had_polygon or observation.geometry is not None:
        db.session.flush()
        refresh_extent(observation.site)
        if site_before is not observation.site:
            refresh_extent(site_before)
    if observation.status == ReviewStatus.RETURNED:
        observation.status = ReviewStatus.SUBMITTED
        db.session.flush()
        if observation.reviewed_at is not None:
            publish(ObservationResubmitted(observation.id, observation.reviewed_at))
    db.session.flush()
    visited = (site_before, observation.site)
    publish(ObservationEdited(observation.id, tuple(sorted({s.id for s in visited if s is not None}))))
    return observation


def add_photo(
    *, actor: User, observation: Observation, data: bytes, filename: str | None
) -> tuple[Photo, bool]:
    """Attach a photo to a record its surveyor (or an admin) may still change, and flag the record when
    the photo's own GPS is far from it. Returns (photo, created: False for the same bytes again, even
    once the record is reviewed: a retry after a lost answer). Raises PermissionDenied, Conflict (a new
    photo for a reviewed record) and the photo's own errors (app.photos.services)."""
    if not policy.may_add_record_photos(actor, observation):
        raise PermissionDenied(_("Only the surveyor who recorded it can add photos to this record."))
    parent = photos.Parent(observation_id=observation.id)
    if (existing := photos.already_attached(parent, data)) is not None:
        return existing, False  # a retry whose answer was lost, perhaps reviewed since: it is here
    if observation.status not in EDITABLE:
        raise Conflict(
            _(
                "This record has been %(status)s; photos can no longer be added.",
                status=STATUS_LABELS[observation.status],
            ),
            {"status": [observation.status.value]},
        )
    photo, created = photos.add_photo(actor=actor, parent=parent, data=data, filename=filename)
    if created:
        observation.photos.append(photo)
        refresh_photo_flag(observation)
        db.session.flush()
    return photo, created


def filtered(filters: dict[str, Any]) -> sa.Select[tuple[Observation]]:
    """Observations matching the list filters, newest first. Raises InvalidInput for unknown codes."""
    stmt = sa.select(Observation)
    if "species_id" in filters:
        stmt = stmt.where(Observation.species_id == filters["species_id"])
    if "township_code" in filters:
        townships = find_townships(filters["township_code"])
        if not townships:
            raise InvalidInput.field("township_code", _("Unknown township; see GET /api/v1/townships."))
        stmt = stmt.where(Observation.township_id.in_([t.id for t in townships]))
    if "village_code" in filters:
        villages = find_village(filters["village_code"])
        if not villages:
            raise InvalidInput.field("village_code", _("Unknown village; see GET /api/v1/villages."))
        stmt = stmt.where(Observation.village_id.in_([v.id for v in villages]))
    if "status" in filters:
        stmt = stmt.where(Observation.status == filters["status"])
    if "detected" in filters:
        stmt = stmt.where(Observation.detected == filters["detected"])
    if "from_" in filters:
        stmt = stmt.where(Observation.observed_at >= day_start(filters["from_"]))
    if "to" in filters:
        stmt = stmt.where(Observation.observed_at < day_end(filters["to"]))
    if "bbox" in filters:
        min_lon, min_lat, max_lon, max_lat = filters["bbox"]
        stmt = stmt.where(
            Observation.longitude.between(min_lon, max_lon), Observation.latitude.between(min_lat, max_lat)
        )
    if "surveyor_id" in filters:
        stmt = stmt.where(Observation.surveyor_id == filters["surveyor_id"])
    if "organization" in filters:
        org_id = db.session.scalar(
            sa.select(Organization.id).where(Organization.code == filters["organization"])
        )
        if org_id is None:
            raise InvalidInput.field("organization", _("Unknown organization."))
        stmt = stmt.where(Observation.organization_id == org_id)
    if "site_id" in filters:
        stmt = stmt.where(Observation.site_id == filters["site_id"])
    if "flag" in filters:
        stmt = stmt.where(
            sa.exists().where(
                ObservationFlag.observation_id == Observation.id, ObservationFlag.flag == filters["flag"]
            )
        )
    # Pages show each record's land class (its habitat's parent): joined here, else each distinct class
    # on a page costs a query of its own and the count grows with the page size (docs/contract.md §5).
    # A record's species is shown by name, but its row carries six JSON columns: joined, they would be
    # decoded again on every record; loaded once per distinct species of the page instead.
    stmt = stmt.options(
        sa.orm.joinedload(Observation.habitat).joinedload(Habitat.parent),
        sa.orm.selectinload(Observation.species),
    )
    return stmt.order_by(Observation.observed_at.desc(), Observation.id.desc())


def at_site(site_id: int) -> list[Observation]:
    return list(
        db.session.scalars(
            sa.select(Observation)
            .where(Observation.site_id == site_id)
            .order_by(Observation.observed_at, Observation.id)
        )
    )
