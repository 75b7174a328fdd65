"""Scheduling the re-inspections a control operation calls for.

The schedule is data: species × method days from species_lists/ (福寿螺 after 化学防治: +1, +3, +7, +15,
+30), or the days the operator gives, plus a next-spring check of overwintering sites for the species
that have one. Due dates are Asia/Shanghai days.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.clock import local_date
from app.control.models import ControlOperation, FollowUp, FollowUpKind, FollowUpStatus
from app.control.staff import organization_supervisor
from app.extensions import db

# A next-spring check falls at least this long after its treatment (an operation in spring is checked
# the following spring, not days later).
NEXT_SPRING_MIN_DAYS = 60


def next_spring_check(performed_on: date, month_day: str) -> date:
    """The first `month_day` ("03-15") at least NEXT_SPRING_MIN_DAYS after the day of treatment.

    "02-29" (the registry accepts it: it names a real day) falls on 28 February in a year without one:
    the last day of February, as the species' rule means, never a day later in March."""
    month, day = (int(part) for part in month_day.split("-"))
    earliest = performed_on + timedelta(days=NEXT_SPRING_MIN_DAYS)
    candidate = _day_of(earliest.year, month, day)
    return candidate if candidate >= earliest else _day_of(earliest.year + 1, month, day)


def _day_of(year: int, month: int, day: int) -> date:
    """That month and day in `year`; 29 February in a year without one is 28 February."""
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def schedule_follow_ups(operation: ControlOperation, *, assignee: User) -> None:
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
