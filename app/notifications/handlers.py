"""Notifications subscribes to the events of the domains below it (app/events.py), so that reviewing a
record or reassigning a follow-up tells the people concerned without those domains importing this one."""

from __future__ import annotations

from flask import Flask

from app import events
from app.accounts.models import User
from app.control.events import FollowUpAssigned
from app.control.models import FollowUp
from app.extensions import db
from app.notifications import services as notifications
from app.observations.events import ObservationResubmitted, ObservationReviewed
from app.observations.models import Observation, ReviewStatus

# Decisions the surveyor is told about (a verified record needs nothing from them).
TOLD_DECISIONS = frozenset({ReviewStatus.RETURNED.value, ReviewStatus.REJECTED.value})


def on_observation_reviewed(event: ObservationReviewed) -> None:
    if event.decision in TOLD_DECISIONS:
        notifications.notify_review(db.session.get(Observation, event.observation_id))


def on_observation_resubmitted(event: ObservationResubmitted) -> None:
    notifications.notify_resubmitted(db.session.get(Observation, event.observation_id), event.returned_at)


def on_follow_up_assigned(event: FollowUpAssigned) -> None:
    follow_up = db.session.get(FollowUp, event.follow_up_id)
    actor = db.session.get(User, event.actor_id)
    if follow_up is not None and actor is not None:
        notifications.notify_assigned(follow_up, actor=actor)


def init_app(app: Flask) -> None:
    events.subscribe(ObservationReviewed, on_observation_reviewed)
    events.subscribe(ObservationResubmitted, on_observation_resubmitted)
    events.subscribe(FollowUpAssigned, on_follow_up_assigned)
