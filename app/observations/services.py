"""Recording, checking, editing and reviewing observations.

A record is checked the way a colleague back at the bureau would check it: the errors name the field and
say what to do (a point outside the district that would fall inside as GCJ-02 says so); what may be right
but deserves a second look becomes a flag, never a refusal, because the surveyor cannot go back to the
paddy to fix it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app import metrics, policy
from app.accounts.models import Organization, User
from app.accounts.organizations import acting_ids, acts_for
from app.clock import day_end, day_start
from app.district.models import Township
from app.district.services import find_townships, get_district, has_boundaries, township_at
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied, invalid_fields_message
from app.extensions import db
from app.geo.crs import CRS, distance_m, to_wgs84
from app.geo.shapes import contains
from app.idempotency import fingerprint
from app.notifications import services as notifications
from app.observations.models import Flag, Observation, ObservationFlag, ReviewStatus
from app.sites import services as sites
from app.sites.models import Site
from app.sites.services import degree_box
from app.species.models import Habitat, Species
from app.species.services import find_habitat

# API field → the species metric (species_lists/ `metrics`) it records.
METRIC_FIELDS = metrics.FIELD_KEYS
# Phones' clocks drift; a record a few minutes "in the future" is a clock, not a mistake.
CLOCK_SKEW = timedelta(minutes=10)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
EDITABLE = (ReviewStatus.SUBMITTED, ReviewStatus.RETURNED)
STATUS_LABELS = {
    ReviewStatus.SUBMITTED: _l("submitted"),
    ReviewStatus.VERIFIED: _l("verified"),
    ReviewStatus.REJECTED: _l("rejected"),
    ReviewStatus.RETURNED: _l("returned"),
}


@dataclass
class Checked:
    """A record's values after checking, ready to store."""

    species: Species
    lon: float
    lat: float
    township: Township | None
    township_mismatch: bool
    habitat: Habitat | None
    values: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Checking


def _position_errors(lon: float, lat: float, crs: CRS, errors: FieldErrors) -> tuple[float, float]:
    """Convert to WGS-84 and check the district's bounds; returns the WGS-84 point."""
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    district = get_district()
    if district is None or district.contains(wgs_lon, wgs_lat):
        return wgs_lon, wgs_lat
    hint = ""
    if crs is CRS.WGS84 and district.contains(*to_wgs84(lon, lat, CRS.GCJ02)):
        hint = _(
            'It would fall inside as a GCJ-02 point (AMap, Tencent, WeChat): send "crs": "gcj02" '
            "if it was copied from one of those maps."
        )
    elif crs is CRS.WGS84 and district.contains(*to_wgs84(lon, lat, CRS.BD09)):
        hint = _('It would fall inside as a BD-09 point (Baidu Maps): send "crs": "bd09".')
    message = _(
        "The point (%(lat).6f, %(lon).6f) is outside %(district)s.",
        lat=wgs_lat,
        lon=wgs_lon,
        district=district.name,
    )
    message = f"{message} {hint}".strip()
    errors.setdefault("latitude", []).append(message)
    errors.setdefault("longitude", []).append(message)
    return wgs_lon, wgs_lat


def _metric_errors(species: Species, values: dict[str, Any], errors: FieldErrors) -> None:
    detected = values["detected"]
    for field, metric in METRIC_FIELDS.items():
        value = values.get(field)
        if value is None:
            continue
        if not detected and value > 0:
            errors.setdefault(field, []).append(
                _("An absence record (detected = false) cannot have a %(field)s.", field=field)
            )
        elif metric not in species.metrics:
            errors.setdefault(field, []).append(
                _(
                    "%(field)s is not recorded for %(species)s; it records %(metrics)s.",
                    field=field,
                    species=species.name_zh,
                    metrics=", ".join(f for f, m in METRIC_FIELDS.items() if m in species.metrics),
                )
            )
    if not detected and values.get("severity") is not None:
        errors.setdefault("severity", []).append(_("An absence record cannot have a severity."))


def derived_severity(species: Species, values: dict[str, Any]) -> int | None:
    """Severity 1–5 from the species' thresholds (four ascending upper bounds of levels 1–4)."""
    rule = species.severity or {}
    field = next((f for f, m in METRIC_FIELDS.items() if m == rule.get("metric")), None)
    value = values.get(field) if field else None
    thresholds = rule.get("thresholds") or []
    if value is None or len(thresholds) != 4:
        return None
    return 1 + sum(1 for bound in thresholds if value > bound)


def check_record(values: dict[str, Any]) -> Checked:
    """Check a record's values as a whole. Raises InvalidInput naming every field at fault."""
    errors: FieldErrors = {}
    species = db.session.get(Species, values["species_id"])
    if species is None or species.retired_on is not None:
        errors["species_id"] = [_("Unknown species; search GET /api/v1/species for its id.")]

    observed_at: datetime = values["observed_at"]
    now = datetime.now(UTC)
    if observed_at > now + CLOCK_SKEW:
        errors.setdefault("observed_at", []).append(_("is in the future; check the phone's date and time."))
    elif observed_at < EARLIEST:
        errors.setdefault("observed_at", []).append(_("is before 1990; check the year."))

    lon, lat = _position_errors(values["longitude"], values["latitude"], CRS(values["crs"]), errors)

    township: Township | None = None
    mismatch = False
    if values.get("township_code"):
        matches = find_townships(values["township_code"], with_boundary=True)
        if len(matches) == 1:
            township = matches[0]
            if township.boundary is not None and not contains(township.boundary, lon, lat):
                mismatch = True
        elif matches:
            errors["township_code"] = [
                _(
                    "%(name)s is now split between %(codes)s; send one code.",
                    name=values["township_code"],
                    codes=", ".join(f"{t.name_zh} {t.code}" for t in matches),
                )
            ]
        else:
            errors["township_code"] = [_("Unknown township; see GET /api/v1/townships.")]
    else:
        township = derive_township(lon, lat)

    habitat = None
    if values.get("habitat"):
        habitat = find_habitat(values["habitat"])
        if habitat is None:
            errors["habitat"] = [_("Unknown habitat; see GET /api/v1/habitats.")]

    if species is not None:
        _metric_errors(species, values, errors)
    if errors:
        raise InvalidInput(invalid_fields_message(errors), errors)
    assert species is not None  # noqa: S101 -- errors would have been raised
    return Checked(
        species=species,
        lon=lon,
        lat=lat,
        township=township,
        township_mismatch=mismatch,
        habitat=habitat,
        values=values,
    )


# ---------------------------------------------------------------------------------------------
# Flags


def _update_flags(observation: Observation, checked: Checked) -> None:
    config = current_app.config
    accuracy = observation.accuracy_m
    observation.set_flag(
        Flag.LOW_ACCURACY, accuracy is not None and accuracy > float(config["IAS_GPS_ACCURACY_LIMIT_M"])
    )
    observation.set_flag(Flag.TOWNSHIP_MISMATCH, checked.township_mismatch)
    observation.duplicate_of_id = likely_duplicate(observation)
    observation.set_flag(Flag.POSSIBLE_DUPLICATE, observation.duplicate_of_id is not None)
    if observation.id is not None:
        refresh_photo_flag(observation)


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


def likely_duplicate(observation: Observation) -> int | None:
    """The id of an earlier-created record of the same species and finding a few metres and hours away."""
    config = current_app.config
    radius = float(config["IAS_DUPLICATE_RADIUS_M"])
    window = timedelta(hours=float(config["IAS_DUPLICATE_HOURS"]))
    min_lon, min_lat, max_lon, max_lat = degree_box(observation.longitude, observation.latitude, radius)
    # Ids and points only: the candidates are measured here, never shown (no entity loads, no joins).
    stmt = sa.select(Observation.id, Observation.longitude, Observation.latitude).where(
        Observation.species_id == observation.species_id,
        Observation.detected == observation.detected,
        Observation.observed_at.between(observation.observed_at - window, observation.observed_at + window),
        Observation.latitude.between(min_lat, max_lat),
        Observation.longitude.between(min_lon, max_lon),
    )
    if observation.id is not None:
        stmt = stmt.where(Observation.id < observation.id)
    best: tuple[float, int] | None = None
    for other_id, lon, lat in db.session.execute(stmt.order_by(Observation.id).limit(50)):
        d = distance_m(observation.longitude, observation.latitude, lon, lat)
        if d <= radius and (best is None or d < best[0]):
            best = (d, other_id)
    return best[1] if best else None


# ---------------------------------------------------------------------------------------------
# Verbs


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
    observation.habitat = checked.habitat
    if observation.detected and values.get("severity") is None:
        observation.severity = derived_severity(checked.species, values)


def _place(observation: Observation, checked: Checked, actor: User) -> None:
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
    )


def find_by_client_uuid(organization_id: int, client_uuid: uuid.UUID) -> Observation | None:
    # The id first: almost every call finds nothing, and an entity select joins six tables.
    found = db.session.scalar(
        sa.select(Observation.id).where(
            Observation.organization_id == organization_id, Observation.client_uuid == client_uuid
        )
    )
    return None if found is None else db.session.get(Observation, found)


def _replay(existing: Observation, payload_sha256: str) -> Observation:
    if existing.payload_sha256 != payload_sha256:
        raise Conflict(
            _(
                "A different record was already sent with this client_uuid (observation %(id)s); "
                "make a new client_uuid for a new record.",
                id=existing.id,
            ),
            {"client_uuid": [_("already used for observation %(id)s", id=existing.id)]},
        )
    return existing


def create_observation(
    *,
    actor: User,
    args: dict[str, Any],
    at_site: Site | None = None,
    organization_id: int | None = None,
    legacy_surveyor: str | None = None,
) -> tuple[Observation, bool]:
    """Record an observation, or return the one an earlier try of the same request made.

    `at_site` pins the record to a site (a re-inspection there) instead of the nearest one.
    `organization_id` is the organization the record belongs to when not the actor's (a workbook
    imported for a bureau by an admin); `legacy_surveyor` the surveyor such a workbook named when no
    colleague of that name records there.
    Returns (observation, created). Raises InvalidInput, and Conflict when the client_uuid was used
    for different content. Safe under concurrent retries: the unique (organization, client_uuid)
    constraint decides, and the loser returns the winner's record.
    """
    payload = fingerprint(args, sender_id=actor.id)
    owner = actor.organization_id if organization_id is None else organization_id
    existing = find_by_client_uuid(owner, args["client_uuid"])
    if existing is not None:
        return _replay(existing, payload), False
    checked = check_record(args)
    try:
        with db.session.begin_nested():
            observation = Observation(
                client_uuid=args["client_uuid"],
                payload_sha256=payload,
                organization_id=owner,
                surveyor_id=actor.id,
                legacy_surveyor=legacy_surveyor,
                status=ReviewStatus.SUBMITTED,
                photos=[],  # a new record has none: known now, not asked of the database after commit
            )
            _apply(observation, checked)
            if at_site is not None:
                sites.record_visit(
                    at_site, detected=observation.detected, observed_at=observation.observed_at
                )
                observation.site = at_site
            else:
                _place(observation, checked, actor)
            _update_flags(observation, checked)
            db.session.add(observation)
            db.session.flush()
            if observation.site is not None:
                sites.refresh_status(observation.site)
    except IntegrityError:
        existing = find_by_client_uuid(owner, args["client_uuid"])
        if existing is None:
            raise
        return _replay(existing, payload), False
    return observation, True


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
        township_code=observation.township.code if observation.township else None,
        habitat=observation.habitat.code if observation.habitat else None,
    )
    return values


def update_observation(*, actor: User, observation: Observation, changes: dict[str, Any]) -> Observation:
    """Edit a record its surveyor still owns (submitted or returned); a returned one goes back for review.

    Raises PermissionDenied, Conflict (already reviewed) and InvalidInput.
    """
    check_editable(actor=actor, observation=observation)
    values = _current_values(observation)
    if "severity" not in changes and any(f in changes for f in METRIC_FIELDS):
        values["severity"] = None  # derive it again from the new figures
    values.update(changes)
    if ("latitude" in changes) != ("longitude" in changes):
        raise InvalidInput.field(
            "latitude" if "longitude" in changes else "longitude",
            _("send latitude and longitude together"),
        )
    checked = check_record(values)
    moved = (
        checked.species.id != observation.species_id
        or checked.values["detected"] != observation.detected
        or distance_m(checked.lon, checked.lat, observation.longitude, observation.latitude) > 0.01
    )
    _apply(observation, checked)
    if moved:
        _place(observation, checked, actor)
    _update_flags(observation, checked)
    if observation.status == ReviewStatus.RETURNED:
        observation.status = ReviewStatus.SUBMITTED
        db.session.flush()
        if observation.reviewed_at is not None:
            notifications.notify_resubmitted(observation, observation.reviewed_at)
    db.session.flush()
    return observation


# Without boundaries, a point takes the township of the nearest site of the district that has one, when that
# site lies within this distance (Liangping's townships are 5–15 km across). Sites are the places the
# district's records were made (every presence record joins one), and far fewer rows than the records.
NEAREST_TOWNSHIP_MAX_M = 3000.0
NEAREST_TOWNSHIP_CANDIDATES = 20


def derive_township(lon: float, lat: float) -> Township | None:
    """The township of a position whose record names none (records made offline often do).

    With township boundaries loaded, the one containing the point. Without them, the township of the
    nearest site (within NEAREST_TOWNSHIP_MAX_M) that has one; None when there is none that close, and the
    record then waits for its surveyor to name it (a verifier cannot verify it without one). This is the
    one place the rule lives: the boundaries work replaces the fallback here.
    """
    if has_boundaries():
        return township_at(lon, lat)
    min_lon, min_lat, max_lon, max_lat = degree_box(lon, lat, NEAREST_TOWNSHIP_MAX_M)
    # Nearest first by a cheap planar measure, then the true distance on the few closest.
    planar = (Site.longitude - lon) * (Site.longitude - lon) + (Site.latitude - lat) * (Site.latitude - lat)
    rows = db.session.execute(
        sa.select(Site.longitude, Site.latitude, Site.township_id)
        .where(
            Site.township_id.is_not(None),
            Site.longitude.between(min_lon, max_lon),
            Site.latitude.between(min_lat, max_lat),
        )
        .order_by(planar)
        .limit(NEAREST_TOWNSHIP_CANDIDATES)
    ).all()
    best: tuple[float, int] | None = None
    for row_lon, row_lat, township_id in rows:
        distance = distance_m(lon, lat, row_lon, row_lat)
        if township_id is None or distance > NEAREST_TOWNSHIP_MAX_M:
            continue
        if best is None or distance < best[0]:
            best = (distance, township_id)
    return None if best is None else db.session.get(Township, best[1])


def review_observation(
    *,
    actor: User,
    observation: Observation,
    decision: ReviewStatus,
    comment: str | None,
    client_uuid: uuid.UUID | None = None,
) -> Observation:
    """Verify, reject or return a submitted record (a verifier of the owning organization or of its
    bureau, or admin).

    `client_uuid`, made once per review by the reviewer's form: the same review sent again is answered
    with the record as it is, not applied twice nor refused. Raises PermissionDenied, Conflict (not
    awaiting review) and InvalidInput (no comment).
    """
    if not policy.reviews(actor):
        raise PermissionDenied(_("Only verifiers review records."))
    if not acts_for(actor, observation.organization_id):
        raise PermissionDenied(
            _("Records are reviewed by a verifier of the organization that made them or of its bureau.")
        )
    if observation.surveyor_id == actor.id:
        raise PermissionDenied(_("A record is reviewed by someone other than its surveyor."))
    if client_uuid is not None and observation.review_uuid == client_uuid:
        return observation  # this very review, sent again
    if observation.status != ReviewStatus.SUBMITTED:
        raise Conflict(
            _("This record is %(status)s, not awaiting review.", status=STATUS_LABELS[observation.status]),
            {"status": [observation.status.value]},
        )
    comment = (comment or "").strip() or None
    if decision in (ReviewStatus.REJECTED, ReviewStatus.RETURNED) and comment is None:
        raise InvalidInput.field("comment", _("say why, so the surveyor can put it right"))
    if decision == ReviewStatus.VERIFIED and observation.township_id is None:
        # A verified record is counted in the census by township: it cannot go there without one.
        raise InvalidInput.field(
            "township_code",
            _("The record has no township: return it to its surveyor to name one before verifying."),
        )
    observation.status = decision
    observation.review_comment = comment
    observation.review_uuid = client_uuid
    observation.reviewed_by_id = actor.id
    observation.reviewed_at = datetime.now(UTC)
    db.session.flush()
    if decision in (ReviewStatus.REJECTED, ReviewStatus.RETURNED):
        notifications.notify_review(observation)
    return observation


# ---------------------------------------------------------------------------------------------
# Queries


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


# ---------------------------------------------------------------------------------------------
# For the pages: the review queue, who may do what, and a record's review history


def review_queue(actor: User) -> sa.Select[tuple[Observation]]:
    """Records waiting for `actor`'s review: those of the organizations they act for (a bureau's
    include its units'; every one for admin), longest waiting first. Raises PermissionDenied for
    anyone who does not review."""
    if not policy.reviews(actor):
        raise PermissionDenied(_("Only verifiers review records."))
    stmt = sa.select(Observation).where(Observation.status == ReviewStatus.SUBMITTED)
    ids = acting_ids(actor)
    if ids is not None:
        stmt = stmt.where(Observation.organization_id.in_(sorted(ids)))
    return stmt.order_by(Observation.created_at, Observation.id)


def check_editable(*, actor: User, observation: Observation) -> None:
    """Whether `actor` may edit the record now (update_observation asks first; the edit page too,
    before it shows the form). Raises PermissionDenied (not the surveyor) and Conflict (reviewed)."""
    if not policy.may_edit_record(actor, observation):
        raise PermissionDenied(_("Only the surveyor who recorded it can edit this record."))
    if observation.status not in EDITABLE:
        raise Conflict(
            _(
                "This record has been %(status)s and can no longer be edited.",
                status=STATUS_LABELS[observation.status],
            ),
            {"status": [observation.status.value]},
        )


def can_review(actor: User, observation: Observation) -> bool:
    """Whether review_observation would accept `actor`'s decision now (so a page offers the form)."""
    return policy.may_review(actor, observation) and observation.status == ReviewStatus.SUBMITTED


@dataclass
class ReviewEvent:
    """One step of a record's review: recorded, resubmitted after an edit, verified, returned, rejected."""

    at: datetime
    step: str  # "recorded", "resubmitted", or the decision (a ReviewStatus value)
    actor_name: str
    comment: str | None = None


def review_history(observation: Observation) -> list[ReviewEvent]:
    """The record's review steps in time order, read from the audit log (the record itself keeps only
    the latest decision and comment; the log keeps every one, with who made it). One query."""
    from app.audit.models import AuditLog

    rows = db.session.execute(
        sa.select(
            AuditLog.occurred_at, AuditLog.action, AuditLog.changes, AuditLog.actor_label, User.display_name
        )
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(
            AuditLog.entity_type == Observation.__tablename__,
            AuditLog.entity_id == str(observation.id),
            AuditLog.action.in_(("create", "update")),
        )
        .order_by(AuditLog.id)
    ).all()
    events: list[ReviewEvent] = []
    comment: str | None = None  # the comment as it stood after each row (unchanged ones are not logged)
    for occurred_at, action, changes, label, display_name in rows:
        changes = changes or {}
        if "review_comment" in changes:
            comment = changes["review_comment"][1]
        who = display_name or label
        if action == "create":
            events.append(ReviewEvent(occurred_at, "recorded", who))
        elif "reviewed_at" in changes and "status" in changes:
            events.append(ReviewEvent(occurred_at, changes["status"][1], who, comment))
        elif "status" in changes and changes["status"][1] == ReviewStatus.SUBMITTED.value:
            events.append(ReviewEvent(occurred_at, "resubmitted", who))
    return events
