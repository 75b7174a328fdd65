"""Reviewing records: who may, the decision, the queue, and a record's review history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import policy
from app.accounts.models import User
from app.accounts.organizations import acting_ids, acts_for
from app.audit.models import AuditLog
from app.errors import Conflict, InvalidInput, PermissionDenied
from app.events import publish
from app.extensions import db
from app.idempotency import same_request
from app.observations.events import ObservationReviewed
from app.observations.models import Observation, ReviewStatus

EDITABLE = (ReviewStatus.SUBMITTED, ReviewStatus.RETURNED)


STATUS_LABELS = {
    ReviewStatus.SUBMITTED: _l("submitted"),
    ReviewStatus.VERIFIED: _l("verified"),
    ReviewStatus.REJECTED: _l("rejected"),
    ReviewStatus.RETURNED: _l("returned"),
}


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
    if same_request(observation.review_uuid, client_uuid):
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
    publish(ObservationReviewed(observation.id, decision.value))
    return observation


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
