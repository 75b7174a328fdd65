"""Recording control operations, scheduling the re-inspections they call for, and completing them.

The schedule is data: species × method days from species_lists/ (福寿螺 after 化学防治: +1, +3, +7, +15,
+30), or the days the operator gives, plus a next-spring check of overwintering sites for the species
that have one. Due dates are Asia/Shanghai days.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app import metrics, policy
from app.accounts.models import Organization, Role, User
from app.accounts.organizations import acts_for, unit_ids
from app.clock import day_end, day_start, local_date, local_today, local_zone
from app.control import efficacy as formulas
from app.control.efficacy import henderson_tilton_gap, henderson_tilton_pct, reduction_pct
from app.control.models import ControlOperation, FollowUp, FollowUpKind, FollowUpStatus
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied, invalid_fields_message
from app.extensions import db
from app.geo.crs import distance_m
from app.idempotency import fingerprint
from app.notifications import services as notifications
from app.observations import services as observations
from app.observations.models import Observation
from app.observations.services import CLOCK_SKEW, EARLIEST
from app.sites import services as sites
from app.sites.models import Site
from app.species.models import ControlMethod
from app.species.services import find_control_method

FOLLOW_UP_LABELS = {
    FollowUpStatus.PENDING: _l("pending"),
    FollowUpStatus.DONE: _l("done"),
    FollowUpStatus.CANCELLED: _l("cancelled"),
}
# Observation metrics efficacy is computed on, and their names in the efficacy figures.
EFFICACY_METRICS = {metric.field: metric.key for metric in metrics.EFFICACY}
# Why a corrected efficacy (Henderson–Tilton) is missing, as the pages and the API say it.
EFFICACY_GAPS = {
    formulas.NO_CHECK_PLOT: _l("no untreated check plot was linked to the treatment"),
    formulas.MISSING_FIGURES: _l("a density before or after treatment is missing (treated or check plot)"),
    formulas.TREATED_BEFORE_ZERO: _l("the treated plot's density before treatment was 0"),
    formulas.CHECK_BEFORE_ZERO: _l("the check plot's density before treatment was 0"),
    formulas.CHECK_AFTER_ZERO: _l("the check plot's density after treatment was 0"),
}
# A re-inspection this many site radii from its site may have been made elsewhere.
FAR_FROM_SITE_RADII = 3
# A next-spring check falls at least this long after its treatment (an operation in spring is checked
# the following spring, not days later).
NEXT_SPRING_MIN_DAYS = 60


# ---------------------------------------------------------------------------------------------
# Checking


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


def may_be_assigned(user: User | None, organization_id: int) -> bool:
    """Whether `user` may re-inspect for the organization `organization_id`: an active user of it or,
    when it is a bureau, of a unit under it (docs/contract.md §1)."""
    return user is not None and user.active and user.organization_id in unit_ids(organization_id)


def assignable_users(organization_id: int) -> list[User]:
    """The choices of assignee for a follow-up of `organization_id` (its units' staff included)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organization_id.in_(sorted(unit_ids(organization_id))), User.active.is_(True))
            .order_by(User.display_name, User.id)
        )
    )


def _assignee(user_id: int, organization_id: int, field: str, errors: FieldErrors) -> User | None:
    user = db.session.get(User, user_id)
    if not may_be_assigned(user, organization_id):
        errors[field] = [_("must be an active user of the organization or of a unit under it.")]
        return None
    return user


def organization_supervisor(organization_id: int) -> User | None:
    """The supervisor who receives an organization's reminders (the longest-serving active one); for a
    unit with none, its bureau's, whose supervisors supervise the units' re-inspections too."""
    organization = db.session.get(Organization, organization_id)
    while organization is not None:
        supervisor = db.session.scalar(
            sa.select(User)
            .where(
                User.organization_id == organization.id, User.role == Role.SUPERVISOR, User.active.is_(True)
            )
            .order_by(User.id)
            .limit(1)
        )
        if supervisor is not None:
            return supervisor
        organization = organization.parent
    return None


def next_spring_check(performed_on: date, month_day: str) -> date:
    """The first `month_day` ("03-15") at least NEXT_SPRING_MIN_DAYS after the day of treatment."""
    month, day = (int(part) for part in month_day.split("-"))
    earliest = performed_on + timedelta(days=NEXT_SPRING_MIN_DAYS)
    candidate = date(earliest.year, month, day)
    return candidate if candidate >= earliest else date(earliest.year + 1, month, day)


# ---------------------------------------------------------------------------------------------
# Control operations


def create_control_operation(
    *, actor: User, args: dict[str, Any], organization_id: int | None = None
) -> tuple[ControlOperation, bool]:
    """Record a control operation and schedule its follow-ups, or return the one a retry made.

    `organization_id` is the organization the operation belongs to when not the actor's (a workbook
    imported for a bureau by an admin).

    Returns (operation, created). Raises InvalidInput and Conflict (client_uuid reused for other
    content). The unique (organization, client_uuid) constraint makes concurrent retries land once.
    """
    payload = fingerprint(args, sender_id=actor.id)
    owner = actor.organization_id if organization_id is None else organization_id
    existing = _find_operation(owner, args["client_uuid"])
    if existing is not None:
        return _replay(existing, payload), False

    errors: FieldErrors = {}
    site, baseline = _site_and_baseline(args, errors)
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
        assignee = _assignee(args["assignee_id"], owner, "assignee_id", errors)
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
    try:
        with db.session.begin_nested():
            operation = ControlOperation(
                client_uuid=args["client_uuid"],
                payload_sha256=payload,
                organization_id=owner,
                operator_id=actor.id,
                site=site,
                species=species,
                method=method,
                performed_at=performed_at,
                area_m2=args.get("area_m2"),
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
            _schedule(operation, assignee=assignee)
            sites.mark_treated(site)
            db.session.flush()
    except IntegrityError:
        existing = _find_operation(owner, args["client_uuid"])
        if existing is None:
            raise
        return _replay(existing, payload), False
    return operation, True


def _site_and_baseline(args: dict[str, Any], errors: FieldErrors) -> tuple[Site | None, Observation | None]:
    site: Site | None = None
    baseline: Observation | None = None
    if args.get("observation_id") is not None:
        baseline = db.session.get(Observation, args["observation_id"])
        if baseline is None:
            errors["observation_id"] = [_("No observation with id %(id)s.", id=args["observation_id"])]
        elif baseline.site is None:
            errors["observation_id"] = [_("An absence record has no site to treat.")]
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
        baseline = db.session.scalar(
            sa.select(Observation)
            .where(
                Observation.site_id == site.id,
                Observation.detected.is_(True),
                Observation.observed_at <= args["performed_at"],
            )
            .order_by(Observation.observed_at.desc(), Observation.id.desc())
            .limit(1)
        )
    return site, baseline


def _schedule(operation: ControlOperation, *, assignee: User) -> None:
    """The operation's follow-ups, each assigned to its assignee; the supervisor is the escalation."""
    supervisor = organization_supervisor(operation.organization_id)
    owner = assignee
    performed_on = local_date(operation.performed_at)
    for days in operation.follow_up_days:
        db.session.add(
            FollowUp(
                site=operation.site,
                control_operation=operation,
                organization_id=operation.organization_id,
                kind=FollowUpKind.SCHEDULED,
                offset_days=days,
                due_on=performed_on + timedelta(days=days),
                assignee_id=owner.id,
                supervisor_id=supervisor.id if supervisor else None,
            )
        )
    if operation.species.spring_check_md:
        spring = next_spring_check(performed_on, operation.species.spring_check_md)
        pending = _pending_spring_check(operation)
        if pending is None:
            db.session.add(
                FollowUp(
                    site=operation.site,
                    control_operation=operation,
                    organization_id=operation.organization_id,
                    kind=FollowUpKind.NEXT_SPRING,
                    offset_days=(spring - performed_on).days,
                    due_on=spring,
                    assignee_id=owner.id,
                    supervisor_id=supervisor.id if supervisor else None,
                )
            )
        elif pending.due_on < spring:
            # One next-spring check per site and species: the pending one now follows the latest
            # treatment, and falls no sooner than it allows.
            pending.control_operation = operation
            pending.offset_days = (spring - performed_on).days
            pending.due_on = spring


def _pending_spring_check(operation: ControlOperation) -> FollowUp | None:
    """The site's pending next-spring check of the operation's species, if one is scheduled."""
    return db.session.scalar(
        sa.select(FollowUp)
        .join(ControlOperation, ControlOperation.id == FollowUp.control_operation_id)
        .where(
            FollowUp.site_id == operation.site_id,
            FollowUp.kind == FollowUpKind.NEXT_SPRING,
            FollowUp.status == FollowUpStatus.PENDING,
            ControlOperation.species_id == operation.species_id,
            ControlOperation.id != operation.id,
        )
        .order_by(FollowUp.due_on.desc(), FollowUp.id.desc())
        .limit(1)
    )


def _find_operation(organization_id: int, client_uuid: uuid.UUID) -> ControlOperation | None:
    return db.session.scalar(
        sa.select(ControlOperation).where(
            ControlOperation.organization_id == organization_id, ControlOperation.client_uuid == client_uuid
        )
    )


def _replay(existing: ControlOperation, payload: str) -> ControlOperation:
    if existing.payload_sha256 != payload:
        raise Conflict(
            _(
                "A different operation was already sent with this client_uuid (operation %(id)s); "
                "make a new client_uuid for a new operation.",
                id=existing.id,
            ),
            {"client_uuid": [_("already used for control operation %(id)s", id=existing.id)]},
        )
    return existing


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


# ---------------------------------------------------------------------------------------------
# Follow-ups


def is_overdue(follow_up: FollowUp, today: date | None = None) -> bool:
    return follow_up.overdue_on(today or local_today())


def get_follow_up(follow_up_id: int) -> FollowUp:
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(_("No follow-up with id %(id)s.", id=follow_up_id))
    return follow_up


def filtered_follow_ups(filters: dict[str, Any]) -> sa.Select[tuple[FollowUp]]:
    stmt = sa.select(FollowUp)
    today = local_today()
    if "status" in filters:
        stmt = stmt.where(FollowUp.status == filters["status"])
    if "overdue" in filters:
        overdue = FollowUp.overdue_on(today)
        stmt = stmt.where(overdue if filters["overdue"] else sa.not_(overdue))
    for name in ("assignee_id", "site_id", "control_operation_id"):
        if name in filters:
            stmt = stmt.where(getattr(FollowUp, name) == filters[name])
    if "due_before" in filters:
        stmt = stmt.where(FollowUp.due_on < filters["due_before"])
    if "organization_id" in filters:
        stmt = stmt.where(FollowUp.organization_id == filters["organization_id"])
    if "organization_ids" in filters:
        stmt = stmt.where(FollowUp.organization_id.in_(sorted(filters["organization_ids"])))
    return stmt.order_by(FollowUp.due_on, FollowUp.id)


def _check_manager(actor: User, organization_id: int) -> None:
    if not policy.manages_follow_ups(actor):
        raise PermissionDenied(_("Only supervisors assign, reschedule and cancel follow-ups."))
    if not acts_for(actor, organization_id):
        raise PermissionDenied(_("This follow-up belongs to another organization."))


def may_complete(actor: User, follow_up: FollowUp) -> bool:
    """Its assignee, or anyone acting for its organization (its bureau's staff included), completes it."""
    return policy.may_complete_follow_up(actor, follow_up)


def create_manual_follow_up(
    *, actor: User, site_id: int, due_on: date, assignee_id: int | None, note: str | None
) -> FollowUp:
    """A re-inspection of any site, by hand (supervisors). Raises PermissionDenied, InvalidInput."""
    _check_manager(actor, actor.organization_id)
    errors: FieldErrors = {}
    site = db.session.get(Site, site_id)
    if site is None:
        errors["site_id"] = [_("No site with id %(id)s.", id=site_id)]
    if due_on < local_today():
        errors["due_on"] = [_("is in the past.")]
    assignee = actor
    if assignee_id is not None:
        assignee = _assignee(assignee_id, actor.organization_id, "assignee_id", errors) or actor
    if errors:
        raise InvalidInput(invalid_fields_message(errors), errors)
    supervisor = organization_supervisor(actor.organization_id)
    follow_up = FollowUp(
        site=site,
        organization_id=actor.organization_id,
        kind=FollowUpKind.MANUAL,
        due_on=due_on,
        assignee_id=assignee.id,
        supervisor_id=supervisor.id if supervisor else None,
        note=note,
    )
    db.session.add(follow_up)
    db.session.flush()
    return follow_up


def update_follow_up(*, actor: User, follow_up: FollowUp, changes: dict[str, Any]) -> FollowUp:
    """Reassign, reschedule or cancel (supervisors of its organization or of its bureau; the assignee
    an active user of its organization or of a unit under it). Raises PermissionDenied,
    Conflict (already done or cancelled) and InvalidInput."""
    _check_manager(actor, follow_up.organization_id)
    if follow_up.status != FollowUpStatus.PENDING:
        raise Conflict(
            _("This follow-up is already %(status)s.", status=FOLLOW_UP_LABELS[follow_up.status]),
            {"status": [follow_up.status.value]},
        )
    errors: FieldErrors = {}
    reassigned = False
    if "assignee_id" in changes:
        owner = _assignee(changes["assignee_id"], follow_up.organization_id, "assignee_id", errors)
        if owner is not None:
            reassigned = owner.id != follow_up.assignee_id
            follow_up.assignee_id = owner.id
    if "due_on" in changes:
        if changes["due_on"] < local_today():
            errors["due_on"] = [_("is in the past.")]
        else:
            follow_up.due_on = changes["due_on"]
    if "note" in changes:
        follow_up.note = changes["note"]
    if changes.get("status") == FollowUpStatus.CANCELLED:
        reason = (changes.get("cancelled_reason") or "").strip()
        if not reason:
            errors["cancelled_reason"] = [_("say why the re-inspection is no longer needed")]
        follow_up.status = FollowUpStatus.CANCELLED
        follow_up.cancelled_reason = reason
    if errors:
        raise InvalidInput(invalid_fields_message(errors), errors)
    db.session.flush()
    if reassigned and follow_up.status is FollowUpStatus.PENDING:
        notifications.notify_assigned(follow_up, actor=actor)
    return follow_up


def complete_follow_up(*, actor: User, follow_up: FollowUp, observation_args: dict[str, Any]) -> FollowUp:
    """Record the re-inspection's observation at the site and compute efficacy.

    A retry with the same observation returns the completed follow-up. Raises PermissionDenied,
    Conflict and InvalidInput.
    """
    if not may_complete(actor, follow_up):
        raise PermissionDenied(_("This follow-up belongs to another organization."))
    done = follow_up.observation if follow_up.status == FollowUpStatus.DONE else None
    if done is not None and done.client_uuid == observation_args["client_uuid"]:
        return follow_up  # a retry of the completion that already landed
    if follow_up.status != FollowUpStatus.PENDING:
        raise Conflict(
            _("This follow-up is already %(status)s.", status=FOLLOW_UP_LABELS[follow_up.status]),
            {"status": [follow_up.status.value]},
        )
    site = follow_up.site
    if observation_args.get("species_id") not in (None, site.species_id):
        raise InvalidInput.field(
            "observation.species_id",
            _("Site %(code)s is a site of %(species)s.", code=site.code, species=site.species.name_zh),
        )
    operation = follow_up.control_operation
    observed_at = observation_args.get("observed_at")
    if operation is not None and isinstance(observed_at, datetime) and observed_at < operation.performed_at:
        raise InvalidInput.field(
            "observation.observed_at",
            _(
                "is before the treatment it re-inspects (%(when)s); check the date and time.",
                when=operation.performed_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"),
            ),
        )
    observation_args = {**observation_args, "species_id": site.species_id}
    observation, _created = observations.create_observation(actor=actor, args=observation_args, at_site=site)
    follow_up.status = FollowUpStatus.DONE
    # Completed when the re-inspection was made (its observation's time), not when it reached us: a
    # phone offline for a day sends it late.
    follow_up.completed_at = observation.observed_at
    follow_up.completed_by_id = actor.id
    follow_up.observation = observation
    follow_up.distance_m = round(
        distance_m(observation.longitude, observation.latitude, site.longitude, site.latitude), 1
    )
    limit = FAR_FROM_SITE_RADII * float(current_app.config["IAS_SITE_RADIUS_M"])
    follow_up.far_from_site = follow_up.distance_m > limit
    # A far re-inspection may not have been made at the site: its efficacy waits for a supervisor.
    follow_up.efficacy = None if follow_up.far_from_site else efficacy_of(operation, observation)
    db.session.flush()
    return follow_up


def accept_far_follow_up(*, actor: User, follow_up: FollowUp) -> FollowUp:
    """A supervisor accepts a re-inspection recorded far from its site: its efficacy now counts.

    Raises PermissionDenied (not a supervisor of its organization) and Conflict (not done, or not
    far from its site, or accepted already: accepting twice changes nothing)."""
    _check_manager(actor, follow_up.organization_id)
    if follow_up.status != FollowUpStatus.DONE or not follow_up.far_from_site:
        raise Conflict(
            _("Only a completed re-inspection recorded far from its site needs accepting."),
            {"far_from_site": [_("is not set on this follow-up")]},
        )
    if follow_up.far_accepted_at is None:
        follow_up.far_accepted_at = datetime.now(UTC)
        follow_up.far_accepted_by_id = actor.id
        if follow_up.observation is not None:
            follow_up.efficacy = efficacy_of(follow_up.control_operation, follow_up.observation)
        db.session.flush()
    return follow_up


def efficacy_withheld(follow_up: FollowUp) -> bool:
    """Recorded far from its site and not yet accepted by a supervisor: no efficacy counts."""
    return follow_up.far_from_site and follow_up.far_accepted_at is None


def _figures(observation: Observation | None) -> dict[str, float | None]:
    if observation is None:
        return {}
    return {name: getattr(observation, field) for field, name in EFFICACY_METRICS.items()}


def _check_plot(site: Site, start: datetime, end: datetime | None) -> Observation | None:
    """The check plot's latest record on or before `end` (after `start` when given as a lower bound)."""
    stmt = sa.select(Observation).where(Observation.site_id == site.id)
    if end is None:
        stmt = stmt.where(Observation.observed_at <= start)
    else:
        stmt = stmt.where(Observation.observed_at > start, Observation.observed_at <= end)
    return db.session.scalar(stmt.order_by(Observation.observed_at.desc(), Observation.id.desc()).limit(1))


def efficacy_of(operation: ControlOperation | None, after: Observation) -> dict[str, Any] | None:
    """Reduction per metric against the operation's baseline, and the Henderson–Tilton corrected
    efficacy on density when an untreated check plot was linked. None without a baseline."""
    if operation is None or operation.baseline_observation is None:
        return None
    before = _figures(operation.baseline_observation)
    after_figures = _figures(after)
    result: dict[str, Any] = {"baseline_observation_id": operation.baseline_observation.id, "metrics": {}}
    for name, value_before in before.items():
        if value_before is None:
            continue
        value_after = after_figures.get(name)
        if value_after is None and not after.detected:
            value_after = 0.0  # searched for and not found
        result["metrics"][name] = {
            "before": value_before,
            "after": value_after,
            "reduction_pct": reduction_pct(value_before, value_after),
        }
    density = result["metrics"].get("density", {})
    eggs = result["metrics"].get("egg_masses", {})
    cover = result["metrics"].get("cover", {})
    result["density_reduction_pct"] = density.get("reduction_pct")
    result["egg_mass_reduction_pct"] = eggs.get("reduction_pct")
    result["cover_reduction_pct"] = cover.get("reduction_pct")
    result["corrected_efficacy_pct"] = None
    result["corrected_efficacy_reason"] = formulas.NO_CHECK_PLOT
    if operation.check_site is not None:
        check_before = _check_plot(operation.check_site, operation.performed_at, None)
        check_after = _check_plot(operation.check_site, operation.performed_at, after.observed_at)
        ck_b = check_before.density_per_m2 if check_before else None
        ck_a = check_after.density_per_m2 if check_after else None
        result["check"] = {"site_id": operation.check_site.id, "before": ck_b, "after": ck_a}
        figures = (density.get("before"), density.get("after"), ck_b, ck_a)
        result["corrected_efficacy_pct"] = henderson_tilton_pct(*figures)
        result["corrected_efficacy_reason"] = henderson_tilton_gap(*figures)
    return result


def efficacy_gap_text(efficacy: dict[str, Any] | None) -> str | None:
    """Why the corrected efficacy is missing, in the reader's language (None when it is there)."""
    code = (efficacy or {}).get("corrected_efficacy_reason")
    return str(EFFICACY_GAPS[code]) if code in EFFICACY_GAPS else None


def operations_at_site(site_id: int) -> list[ControlOperation]:
    stmt = sa.select(ControlOperation).where(ControlOperation.site_id == site_id)
    return list(db.session.scalars(stmt.order_by(ControlOperation.performed_at)))


def follow_ups_at_site(site_id: int) -> list[FollowUp]:
    stmt = sa.select(FollowUp).where(FollowUp.site_id == site_id)
    return list(db.session.scalars(stmt.order_by(FollowUp.due_on, FollowUp.id)))
