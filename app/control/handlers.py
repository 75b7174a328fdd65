"""Control subscribes to the events of the domains below it (app/events.py): a user who leaves an
organization (moved or deactivated) hands its pending re-inspections back, since accounts sits below
control and cannot reach them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from app import events
from app.accounts.events import UserLeft
from app.accounts.models import User
from app.control.models import FollowUp, FollowUpStatus
from app.control.staff import may_be_assigned, refresh_supervisors
from app.extensions import db


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


def init_app(app: Flask) -> None:
    events.subscribe(UserLeft, on_user_left)
