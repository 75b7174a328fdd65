"""Control subscribes to the events of the domains below it (app/events.py): a user who leaves an
organization (moved or deactivated) hands its pending re-inspections back, since accounts sits below
control and cannot reach them; a record corrected or rejected has the efficacies it counts in worked out
again, and so has a record that arrives late (after a re-inspection that reads it was completed), since
observations cannot reach them either."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from app import events
from app.accounts.events import UserLeft
from app.accounts.models import User
from app.control.follow_ups import reassess, reassess_for_new_record
from app.control.models import FollowUp, FollowUpStatus
from app.control.staff import may_be_assigned, refresh_supervisors
from app.extensions import db
from app.observations.events import ObservationAdded, ObservationEdited, ObservationReviewed
from app.observations.models import Observation


def on_user_left(event: UserLeft) -> int:
    """Unassign the user's pending re-inspections of organizations they may no longer re-inspect for
    (`may_be_assigned`: moved out of the organization and the units under it, or deactivated), and point
    those and the ones they supervised at the organization's supervisor as things are now: the reminder
    sweep then tells that supervisor, who reassigns them. Left with the user, they would be done by
    nobody, or completed and counted for the wrong bureau (docs/contract.md §1). Returns how many."""
    user = db.session.get(User, event.user_id)
    assert user is not None  # noqa: S101 -- the user just changed
    pending = db.session.scalars(
        sa.select(FollowUp).where(FollowUp.assignee_id == user.id, FollowUp.status == FollowUpStatus.PENDING)
    ).all()
    stays: dict[int, bool] = {}  # per organization: one look at its units, whatever the number
    handed_back = [
        f.id
        for f in pending
        if not stays.setdefault(f.organization_id, may_be_assigned(user, f.organization_id))
    ]
    if handed_back:
        db.session.execute(
            sa.update(FollowUp)
            .where(FollowUp.id.in_(handed_back))
            .values(assignee_id=None)
            .execution_options(synchronize_session="fetch")
        )
    refresh_supervisors(sa.or_(FollowUp.id.in_(handed_back), FollowUp.supervisor_id == user.id))
    return len(handed_back)


def on_observation_edited(event: ObservationEdited) -> None:
    """A record its surveyor corrected: the efficacies it counts in are worked out again."""
    reassess(event.observation_id, event.site_ids)


def on_observation_added(event: ObservationAdded) -> None:
    """A new record of a site sent after a re-inspection that reads that site was completed (a phone
    that synced late): the efficacy it now counts in is worked out again."""
    reassess_for_new_record(
        observation_id=event.observation_id,
        site_id=event.site_id,
        species_id=event.species_id,
        detected=event.detected,
        observed_at=event.observed_at,
    )


def on_observation_reviewed(event: ObservationReviewed) -> None:
    """A rejected record's figures were judged wrong: never part of an efficacy, even one worked out
    before it was reviewed (as the re-inspection's record, a baseline or a check plot's record)."""
    if event.decision != "rejected":
        return
    observation = db.session.get(Observation, event.observation_id)
    if observation is not None:
        reassess(observation.id, () if observation.site_id is None else (observation.site_id,))


def init_app(app: Flask) -> None:
    events.subscribe(UserLeft, on_user_left)
    events.subscribe(ObservationEdited, on_observation_edited)
    events.subscribe(ObservationAdded, on_observation_added)
    events.subscribe(ObservationReviewed, on_observation_reviewed)
