"""Follow-ups (re-inspections): listing, assigning, rescheduling, cancelling, completing, accepting."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import policy
from app.accounts.models import User
from app.accounts.organizations import acts_for
from app.clock import local_today, local_zone
from app.control.assessment import efficacy_of, efficacy_withheld
from app.control.events import FollowUpAssigned
from app.control.models import ControlOperation, FollowUp, FollowUpKind, FollowUpStatus
from app.control.staff import assignee_or_error, organization_supervisor
from app.db import UTCDateTime
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied
from app.events import publish
from app.extensions import db
from app.geo.crs import distance_m
from app.idempotency import same_request
from app.messages import invalid_fields_message
from app.observations.create import create_observation
from app.observations.models import Observation, ReviewStatus
from app.sites.models import Site

FOLLOW_UP_LABELS = {
    FollowUpStatus.PENDING: _l("pending"),
    FollowUpStatus.DONE: _l("done"),
    FollowUpStatus.CANCELLED: _l("cancelled"),
}


# A re-inspection this many site radii from its site may have been made elsewhere.
FAR_FROM_SITE_RADII = 3


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


def _locked(follow_up: FollowUp) -> FollowUp:
    """The follow-up read again under a row lock (PostgreSQL; SQLite's writers are serialized already),
    held until the unit of work ends: its status is checked and changed by one request at a time, so two
    colleagues completing it at once, or a completion and a cancellation, cannot both land (the second
    finds it done: a retry of the same completion is answered with it, anything else is a 409)."""
    db.session.refresh(follow_up, with_for_update={"of": FollowUp})
    return follow_up


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
        assignee = assignee_or_error(assignee_id, actor.organization_id, "assignee_id", errors) or actor
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
    follow_up = _locked(follow_up)
    if follow_up.status != FollowUpStatus.PENDING:
        raise Conflict(
            _("This follow-up is already %(status)s.", status=FOLLOW_UP_LABELS[follow_up.status]),
            {"status": [follow_up.status.value]},
        )
    errors: FieldErrors = {}
    reassigned = False
    if "assignee_id" in changes:
        owner = assignee_or_error(changes["assignee_id"], follow_up.organization_id, "assignee_id", errors)
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
        publish(FollowUpAssigned(follow_up.id, actor.id))
    return follow_up


def complete_follow_up(*, actor: User, follow_up: FollowUp, observation_args: dict[str, Any]) -> FollowUp:
    """Record the re-inspection's observation at the site and compute efficacy.

    A retry with the same observation returns the completed follow-up, also to the one who completed
    it when they have been moved to an organization they may not complete it for since (their phone's
    retry of an answer lost before the move, docs/contract.md §3.2): it completes nothing again. Raises
    PermissionDenied, Conflict and InvalidInput.
    """
    if not may_complete(actor, follow_up):
        if (
            follow_up.status == FollowUpStatus.DONE  # final: no lock needed to read it
            and follow_up.completed_by_id == actor.id
            and follow_up.observation is not None
            and same_request(follow_up.observation.client_uuid, observation_args["client_uuid"])
        ):
            return follow_up
        raise PermissionDenied(_("This follow-up belongs to another organization."))
    follow_up = _locked(follow_up)
    done = follow_up.observation if follow_up.status == FollowUpStatus.DONE else None
    if done is not None and same_request(done.client_uuid, observation_args["client_uuid"]):
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
    # The re-inspection is the follow-up's organization's, whoever completes it (a bureau's colleague, an
    # admin): filed under the completer's own organization it would count in another bureau's census.
    try:
        observation, created = create_observation(
            actor=actor, args=observation_args, at_site=site, organization_id=follow_up.organization_id
        )
    except (InvalidInput, Conflict) as exc:
        # The record is the body's `observation`: its fields are named where they are in it, so the
        # phone's form shows each beside its own field (docs/contract.md §3.2).
        exc.errors = {f"observation.{name}": messages for name, messages in exc.errors.items()}
        raise
    if not created:
        # A record made before with this client_uuid (another re-inspection's, or one sent on its own,
        # perhaps at another site): it is not this re-inspection, and one visit never completes two.
        message = _(
            "This client_uuid was already used for observation %(id)s; a re-inspection is completed with "
            "a record of its own: make a new client_uuid.",
            id=observation.id,
        )
        raise Conflict(message, {"observation.client_uuid": [message]})
    follow_up.status = FollowUpStatus.DONE
    # Completed when the re-inspection was made (its observation's time), not when it reached us: a
    # phone offline for a day sends it late.
    follow_up.completed_at = observation.observed_at
    follow_up.completed_by_id = actor.id
    follow_up.observation = observation
    _assess(follow_up)
    db.session.flush()
    return follow_up


def record_stands(follow_up: FollowUp) -> bool:
    """Whether the re-inspection's record still counts: at the follow-up's site and not rejected (its
    figures judged wrong, or its surveyor moved it to another place or species since)."""
    observation = follow_up.observation
    return (
        observation is not None
        and observation.site_id == follow_up.site_id
        and observation.status != ReviewStatus.REJECTED
    )


def _assess(follow_up: FollowUp) -> None:
    """A completed follow-up's distance from its site and its efficacy, from its records as they are now
    (at its completion, when a supervisor accepts it, and when one of its records changes)."""
    observation, site = follow_up.observation, follow_up.site
    if observation is None:
        follow_up.efficacy = None
        return
    follow_up.distance_m = round(
        distance_m(observation.longitude, observation.latitude, site.longitude, site.latitude), 1
    )
    limit = FAR_FROM_SITE_RADII * float(current_app.config["IAS_SITE_RADIUS_M"])
    follow_up.far_from_site = follow_up.distance_m > limit
    # A far re-inspection may not have been made at the site: its efficacy waits for a supervisor.
    counts = record_stands(follow_up) and not efficacy_withheld(follow_up)
    follow_up.efficacy = efficacy_of(follow_up.control_operation, observation) if counts else None


def reassess(observation_id: int, site_ids: tuple[int, ...]) -> int:
    """Work out again the efficacy of the completed follow-ups a changed record may count in: the one it
    completed, and those of the treatments of its sites (`site_ids`: their baselines) and of the
    treatments that took one of them as their check plot. Stored figures never outlive the records they
    came from (a census workbook shows them). Returns how many were looked at."""
    among = [FollowUp.observation_id == observation_id]
    if site_ids:
        among += [ControlOperation.site_id.in_(site_ids), ControlOperation.check_site_id.in_(site_ids)]
    done = db.session.scalars(
        sa.select(FollowUp)
        .outerjoin(ControlOperation, ControlOperation.id == FollowUp.control_operation_id)
        .where(FollowUp.status == FollowUpStatus.DONE, sa.or_(*among))
        .order_by(FollowUp.id)
    ).all()
    for follow_up in done:
        _assess(follow_up)
    db.session.flush()
    return len(done)


def reassess_for_check_plot_treated(site_id: int, performed_at: datetime) -> int:
    """A treatment of a site recorded after a re-inspection that took the site as its check plot was
    completed (a phone that synced late), performed before that re-inspection's record: the check plot
    may have been treated between its readings (`assessment._treated_between`), so the efficacy is
    worked out again. One statement through the operations' check plot index; returns how many
    follow-ups were looked at."""
    completion = sa.orm.aliased(Observation)
    done = db.session.scalars(
        sa.select(FollowUp)
        .join(ControlOperation, ControlOperation.id == FollowUp.control_operation_id)
        .join(completion, completion.id == FollowUp.observation_id)
        .where(
            ControlOperation.check_site_id == site_id,
            FollowUp.status == FollowUpStatus.DONE,
            completion.observed_at >= performed_at,
        )
        .order_by(FollowUp.id)
    ).all()
    for follow_up in done:
        _assess(follow_up)
    db.session.flush()
    return len(done)


@functools.cache
def _reading_site() -> sa.Select[tuple[int]]:
    """A completed follow-up whose efficacy would read a new record of a site (`site_id`, observed at
    `observed_at`), within the windows `assessment.efficacy_of` reads: a record of its treated site that
    found its species on or before the treatment (`detected_species`: the record's species when it found
    it, else none) may be its baseline (`latest_baseline`); any record of its check plot up to its
    re-inspection's record may be the check plot's before or after (`_check_plot`). Built once; indexed
    by the operation's site and check plot."""
    completion = sa.orm.aliased(Observation)
    site_id = sa.bindparam("site_id", type_=sa.Integer())
    observed_at = sa.bindparam("observed_at", type_=UTCDateTime())
    # A follow-up holding its re-inspection's record is a completed one (only a pending one is
    # cancelled): said so rather than by its status, whose index would have the planner read every
    # completed follow-up. Two branches, each found through its own index of the operations (site_id,
    # check_site_id); one condition across both would be read from the follow-ups too.
    done = (
        sa.select(FollowUp.id)
        .join(ControlOperation, ControlOperation.id == FollowUp.control_operation_id)
        .join(completion, completion.id == FollowUp.observation_id)
    )
    treated = done.where(
        ControlOperation.site_id == site_id,
        ControlOperation.species_id == sa.bindparam("detected_species"),
        ControlOperation.performed_at >= observed_at,
    )
    check = done.where(ControlOperation.check_site_id == site_id, completion.observed_at >= observed_at)
    return sa.select(sa.union_all(treated, check).subquery().c.id).limit(1)


def reassess_for_new_record(
    *, observation_id: int, site_id: int, species_id: int, detected: bool, observed_at: datetime
) -> int:
    """A record that reached us after a re-inspection it counts in was completed (a phone that synced
    late): that re-inspection's efficacy is worked out again, as after an edit (`reassess`). The common
    new record counts in none: one indexed statement says so, and nothing is loaded. Returns how many
    follow-ups were looked at."""
    params = {
        "site_id": site_id,
        "detected_species": species_id if detected else None,
        "observed_at": observed_at,
    }
    if db.session.connection().execute(_reading_site(), params).first() is None:
        return 0
    return reassess(observation_id, (site_id,))


def accept_far_follow_up(*, actor: User, follow_up: FollowUp) -> FollowUp:
    """A supervisor accepts a re-inspection recorded far from its site: its efficacy now counts.

    Raises PermissionDenied (not a supervisor of its organization) and Conflict (not done, or not
    far from its site, or accepted already: accepting twice changes nothing)."""
    _check_manager(actor, follow_up.organization_id)
    follow_up = _locked(follow_up)
    if follow_up.status != FollowUpStatus.DONE or not follow_up.far_from_site:
        raise Conflict(
            _("Only a completed re-inspection recorded far from its site needs accepting."),
            {"far_from_site": [_("is not set on this follow-up")]},
        )
    if follow_up.far_accepted_at is None:
        follow_up.far_accepted_at = datetime.now(UTC)
        follow_up.far_accepted_by_id = actor.id
        _assess(follow_up)
        db.session.flush()
    return follow_up


def follow_ups_at_site(site_id: int) -> list[FollowUp]:
    stmt = sa.select(FollowUp).where(FollowUp.site_id == site_id)
    return list(db.session.scalars(stmt.order_by(FollowUp.due_on, FollowUp.id)))
