"""Recording control operations (their follow-ups: app/control/follow_ups.py and schedule.py; who does
them: staff.py; their efficacy: assessment.py and efficacy.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import gettext as _

from app import policy
from app.accounts.models import User
from app.clock import CLOCK_SKEW, EARLIEST, day_end, day_start, local_today
from app.control.assessment import latest_baseline
from app.control.follow_ups import reassess_for_check_plot_treated
from app.control.models import ControlOperation
from app.control.schedule import schedule_follow_ups
from app.control.staff import assignee_or_error
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.geo.crs import CRS
from app.idempotency import CreateOnce
from app.messages import invalid_fields_message
from app.observations.checks import check_polygon, polygon_area
from app.observations.models import Observation, ReviewStatus
from app.photos import services as photos
from app.photos.models import Photo
from app.sites import services as sites
from app.sites.models import Site
from app.species.models import ControlMethod
from app.species.services import find_control_method

MAX_UNKNOWN_NAMED = 10


UNKNOWN_NAME_CHARS = 40


def check_details(method: ControlMethod, details: Any) -> FieldErrors:
    """The method's own quantities against its catalogue fields: names, types, ranges, required."""
    if not isinstance(details, dict):
        return {"details": [_("must be an object of the method's fields")]}
    errors: FieldErrors = {}
    fields = {f["name"]: f for f in method.fields}
    # Each unknown name once, the first few only, shortened: the answer never grows with the request.
    unknown = [name for name in details if name not in fields]
    for name in unknown[:MAX_UNKNOWN_NAMED]:
        errors[f"details.{name[:UNKNOWN_NAME_CHARS]}"] = [
            _(
                "is not recorded for %(method)s; it records %(fields)s.",
                method=method.name_zh,
                fields=", ".join(fields) or "-",
            )
        ]
    if len(unknown) > MAX_UNKNOWN_NAMED:
        errors["details"] = [
            _(
                "and %(n)d more fields that %(method)s does not record.",
                n=len(unknown) - MAX_UNKNOWN_NAMED,
                method=method.name_zh,
            )
        ]
    for name, spec in fields.items():
        value = details.get(name)
        key = f"details.{name}"
        if value is None or value == "":
            if spec.get("required"):
                errors[key] = [_("is required for %(method)s.", method=method.name_zh)]
            continue
        kind = spec.get("type", "text")
        if kind == "text":
            if not isinstance(value, str) or len(value) > 500:
                errors[key] = [_("must be text of at most 500 characters.")]
            continue
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or value != value or (kind == "integer" and not float(value).is_integer()):
            errors[key] = [_("must be a whole number.") if kind == "integer" else _("must be a number.")]
            continue
        low, high = spec.get("min"), spec.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            errors[key] = [
                _(
                    "must be between %(min)s and %(max)s %(unit)s.",
                    min=low,
                    max=high,
                    unit=spec.get("unit", ""),
                )
            ]
    return errors


def _detail_labels(method: ControlMethod | None) -> dict[str, str]:
    """The method's own fields by their catalogue labels, in the user's language."""
    if method is None:
        return {}
    zh = str(get_locale()) == "zh"
    return {f"details.{f['name']}": f["label_zh"] if zh else f["label_en"] for f in method.fields}


def create_control_operation(
    *, actor: User, args: dict[str, Any], organization_id: int | None = None, imported: bool = False
) -> tuple[ControlOperation, bool]:
    """Record a control operation and schedule its follow-ups, or return the one a retry made.

    `organization_id` is the organization the operation belongs to when not the actor's (a workbook
    imported for a bureau by an admin); `imported`, that it is a workbook's row, whose fingerprint
    leaves out who sent it (app/idempotency.py `fingerprint`).

    Returns (operation, created). Raises InvalidInput and Conflict (client_uuid reused for other
    content). The unique (organization, client_uuid) constraint makes concurrent retries land once.
    """
    owner = actor.organization_id if organization_id is None else organization_id
    sender = None if imported else actor.id
    once = CreateOnce(ControlOperation, owner, args["client_uuid"], args, _clash, sender_id=sender)
    earlier = once.earlier()
    if earlier is not None:
        return earlier, False

    errors: FieldErrors = {}
    site, baseline = _site_and_baseline(args, errors)
    polygon = check_polygon(args.get("geometry"), CRS(args.get("crs", CRS.WGS84)), errors)
    method = find_control_method(args["method"])
    if method is None:
        errors["method"] = [_("Unknown control method; see GET /api/v1/control-methods.")]
    performed_at: datetime = args["performed_at"]
    if performed_at > datetime.now(UTC) + CLOCK_SKEW:
        errors["performed_at"] = [_("is in the future; check the phone's date and time.")]
    elif performed_at < EARLIEST:
        errors["performed_at"] = [_("is before 1990; check the year.")]
    species = site.species if site is not None else None
    if site is not None and args.get("species_id") not in (None, site.species_id):
        errors["species_id"] = [
            _("Site %(code)s is a site of %(species)s.", code=site.code, species=site.species.name_zh)
        ]
    if method is not None and species is not None:
        if not method.applies_to_group(species.group.value):
            errors["method"] = [
                _(
                    "%(method)s is not a method for %(species)s.",
                    method=method.name_zh,
                    species=species.name_zh,
                )
            ]
        errors.update(check_details(method, args.get("details") or {}))
    # Re-inspections go to whoever the operation names, by default the person recording it.
    assignee: User | None = actor
    if args.get("assignee_id") is not None:
        assignee = assignee_or_error(args["assignee_id"], owner, "assignee_id", errors)
    check_site = None
    if args.get("check_site_id") is not None:
        check_site = db.session.get(Site, args["check_site_id"])
        if (
            check_site is None
            or site is None
            or check_site.id == site.id
            or check_site.species_id != site.species_id
        ):
            errors["check_site_id"] = [
                _("must be another site of the same species (an untreated check plot).")
            ]
    if errors:
        raise InvalidInput(invalid_fields_message(errors, _detail_labels(method)), errors)
    assert site is not None and method is not None and species is not None and assignee  # noqa: S101

    days = args.get("follow_up_days")
    if days is None:
        days = list(species.follow_up_days.get(method.code, []))

    def build() -> ControlOperation:
        operation = ControlOperation(
            client_uuid=args["client_uuid"],
            payload_sha256=once.payload,
            organization_id=owner,
            operator_id=actor.id,
            site=site,
            species=species,
            method=method,
            performed_at=performed_at,
            # The typed treated area, else the polygon's (docs/census.md: 防治面积 and 防治范围).
            area_m2=polygon_area(args, polygon)[0],
            geometry=None if polygon is None else polygon.geojson,
            geometry_area_m2=None if polygon is None else round(polygon.area_m2, 2),
            details=args.get("details") or {},
            labour_person_days=args.get("labour_person_days"),
            cost_yuan=args.get("cost_yuan"),
            team=args.get("team"),
            assignee_id=assignee.id,
            notes=args.get("notes"),
            baseline_observation=baseline,
            check_site=check_site,
            follow_up_days=sorted(set(days)),
        )
        db.session.add(operation)
        db.session.flush()
        # A workbook's operation of a past season: its re-inspections' days that are gone are not made.
        schedule_follow_ups(operation, assignee=assignee, not_before=local_today() if imported else None)
        sites.mark_treated(site)
        db.session.flush()
        # A treatment that reached us late may have treated another's check plot between its readings.
        reassess_for_check_plot_treated(site.id, performed_at)
        return operation

    return once.create(build)


def _site_and_baseline(args: dict[str, Any], errors: FieldErrors) -> tuple[Site | None, Observation | None]:
    site: Site | None = None
    baseline: Observation | None = None
    if args.get("observation_id") is not None:
        baseline = db.session.get(Observation, args["observation_id"])
        if baseline is None:
            errors["observation_id"] = [_("No observation with id %(id)s.", id=args["observation_id"])]
        elif baseline.site is None:
            errors["observation_id"] = [_("An absence record has no site to treat.")]
        elif not baseline.detected:
            # A search that found nothing has no figures to measure the treatment against.
            errors["observation_id"] = [
                _(
                    "This record found no %(species)s: it cannot be the figures before treatment; "
                    "give site_id to treat its site.",
                    species=baseline.species.name_zh,
                )
            ]
        elif baseline.status == ReviewStatus.REJECTED:
            errors["observation_id"] = [
                _("This record was rejected: it cannot be the figures before treatment.")
            ]
        elif args.get("performed_at") and baseline.observed_at > args["performed_at"] + CLOCK_SKEW:
            # The baseline is what the treatment is measured against (its efficacy): the site before it.
            errors["observation_id"] = [
                _("This record was made after the treatment: the baseline is the site before it.")
            ]
        else:
            site = baseline.site
    if args.get("site_id") is not None:
        by_id = db.session.get(Site, args["site_id"])
        if by_id is None:
            errors["site_id"] = [_("No site with id %(id)s.", id=args["site_id"])]
        elif site is not None and by_id.id != site.id:
            errors["site_id"] = [_("The observation belongs to site %(code)s.", code=site.code)]
        else:
            site = by_id
    if site is None and not errors:
        errors["site_id"] = [_("Give site_id or observation_id.")]
    if site is not None and baseline is None and args.get("performed_at"):
        baseline = latest_baseline(site.id, site.species_id, args["performed_at"])
    return site, baseline


def _clash(existing: ControlOperation) -> Conflict:
    return Conflict(
        _(
            "A different operation was already sent with this client_uuid (operation %(id)s); "
            "make a new client_uuid for a new operation.",
            id=existing.id,
        ),
        {"client_uuid": [_("already used for control operation %(id)s", id=existing.id)]},
    )


def add_photo(
    *, actor: User, operation: ControlOperation, stage: str, data: bytes, filename: str | None
) -> tuple[Photo, bool]:
    """Attach a photo from before or after the treatment (its operator, or an admin). Returns (photo,
    created: False for the same bytes again). Raises PermissionDenied and the photo's own errors."""
    if not policy.may_add_operation_photos(actor, operation):
        raise PermissionDenied(_("Only the person who recorded the operation can add its photos."))
    photo, created = photos.add_photo(
        actor=actor,
        parent=photos.Parent(control_operation_id=operation.id, stage=stage),
        data=data,
        filename=filename,
    )
    if created:
        db.session.expire(operation, ["photos"])
        db.session.flush()
    return photo, created


def get_operation(operation_id: int) -> ControlOperation:
    operation = db.session.get(ControlOperation, operation_id)
    if operation is None:
        raise NotFound(_("No control operation with id %(id)s.", id=operation_id))
    return operation


def filtered_operations(filters: dict[str, Any]) -> sa.Select[tuple[ControlOperation]]:
    stmt = sa.select(ControlOperation)
    for name in ("site_id", "species_id", "operator_id"):
        if name in filters:
            stmt = stmt.where(getattr(ControlOperation, name) == filters[name])
    if "method" in filters:
        stmt = stmt.join(ControlOperation.method).where(ControlMethod.code == filters["method"])
    if "from_" in filters:
        stmt = stmt.where(ControlOperation.performed_at >= day_start(filters["from_"]))
    if "to" in filters:
        stmt = stmt.where(ControlOperation.performed_at < day_end(filters["to"]))
    return stmt.order_by(ControlOperation.performed_at.desc(), ControlOperation.id.desc())


def operations_at_site(site_id: int) -> list[ControlOperation]:
    stmt = sa.select(ControlOperation).where(ControlOperation.site_id == site_id)
    return list(db.session.scalars(stmt.order_by(ControlOperation.performed_at)))
