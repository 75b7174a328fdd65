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
from app.sites.models import Site

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


def passed_days(operation: ControlOperation, today: date) -> list[date]:
    """The days of the operation's schedule (its re-inspections and next-spring check) before `today`."""
    performed_on = local_date(operation.performed_at)
    days = {performed_on + timedelta(days=d) for d in operation.follow_up_days}
    if operation.species.spring_check_md:
        days.add(next_spring_check(performed_on, operation.species.spring_check_md))
    return sorted(day for day in days if day < today)


def schedule_follow_ups(
    operation: ControlOperation, *, assignee: User, not_before: date | None = None
) -> None:
    """The operation's follow-ups, each assigned to its assignee; the supervisor is the escalation.

    `not_before`: no re-inspection is scheduled for a day before it (an operation of a past season
    imported from a workbook: its re-inspections' days are gone, and would only stand as overdue in
    every list, reminder and census; docs/census.md, Importing a legacy workbook)."""
    _lock_site(operation.site_id)
    supervisor = organization_supervisor(operation.organization_id)
    owner = assignee
    performed_on = local_date(operation.performed_at)
    # A re-inspection already pending for the site on that day (another team's operation of the same
    # day, the same team's second record of it, a supervisor's own) is the one the site gets: this
    # operation's schedule joins it rather than sending someone to the same site twice that day
    # (docs/census.md, Re-inspections due).
    pending_days = _pending_due_days(operation)
    for days in operation.follow_up_days:
        due_on = performed_on + timedelta(days=days)
        if due_on in pending_days or (not_before is not None and due_on < not_before):
            continue
        pending_days.add(due_on)
        db.session.add(_follow_up(operation, FollowUpKind.SCHEDULED, due_on, owner, supervisor))
    if operation.species.spring_check_md:
        spring = next_spring_check(performed_on, operation.species.spring_check_md)
        if not_before is None or spring >= not_before:
            _schedule_spring_check(operation, owner, supervisor, performed_on, spring)


def _follow_up(
    operation: ControlOperation, kind: FollowUpKind, due_on: date, owner: User, supervisor: User | None
) -> FollowUp:
    return FollowUp(
        site=operation.site,
        control_operation=operation,
        organization_id=operation.organization_id,
        kind=kind,
        offset_days=(due_on - local_date(operation.performed_at)).days,
        due_on=due_on,
        assignee_id=owner.id,
        supervisor_id=supervisor.id if supervisor else None,
    )


def _schedule_spring_check(
    operation: ControlOperation, owner: User, supervisor: User | None, performed_on: date, spring: date
) -> None:
    pending = _pending_spring_check(operation)
    if pending is None:
        db.session.add(_follow_up(operation, FollowUpKind.NEXT_SPRING, spring, owner, supervisor))
    elif pending.due_on < spring:
        # One next-spring check per site and species: the pending one now follows the latest
        # treatment, and falls no sooner than it allows.
        pending.control_operation = operation
        pending.offset_days = (spring - performed_on).days
        pending.due_on = spring


def joined_follow_ups(operation: ControlOperation) -> list[FollowUp]:
    """The re-inspections of the operation's site that its schedule joined instead of adding its own
    (`schedule_follow_ups`): those of its organization due on a day of its schedule on which it has none,
    and the site's next-spring check when it kept another's. What the answer to the operation lists
    beside its own, so that a second operation of the day still says when the site is re-inspected.
    Worked out from the follow-ups as they are, not from when they were made (two operations recorded at
    the same moment flush before the site's lock orders them), so a retry is answered as the first try;
    one cancelled since is left out. One statement."""
    performed_on = local_date(operation.performed_at)
    own = operation.follow_ups
    own_days = {f.due_on for f in own if f.kind != FollowUpKind.NEXT_SPRING}
    days = sorted({performed_on + timedelta(days=d) for d in operation.follow_up_days} - own_days)
    joined = [sa.and_(FollowUp.organization_id == operation.organization_id, FollowUp.due_on.in_(days))]
    spring_day = operation.species.spring_check_md
    if spring_day and not any(f.kind == FollowUpKind.NEXT_SPRING for f in own):
        # The site's one next-spring check, kept because it fell no sooner than this one would.
        spring = next_spring_check(performed_on, spring_day)
        joined.append(sa.and_(FollowUp.kind == FollowUpKind.NEXT_SPRING, FollowUp.due_on >= spring))
    if not days and len(joined) == 1:
        return []
    return list(
        db.session.scalars(
            sa.select(FollowUp)
            .where(
                FollowUp.site_id == operation.site_id,
                FollowUp.status != FollowUpStatus.CANCELLED,
                sa.or_(
                    FollowUp.control_operation_id.is_(None), FollowUp.control_operation_id != operation.id
                ),
                sa.or_(*joined),
            )
            .order_by(FollowUp.due_on, FollowUp.id)
        )
    )


def _lock_site(site_id: int) -> None:
    """Hold the site's row until the unit of work ends (PostgreSQL; SQLite's writers are serialized
    already): two operations of one site recorded at the same moment schedule one after the other, so
    the second finds the first's pending re-inspections and next-spring check and joins them instead of
    adding its own. FOR NO KEY UPDATE: the operation's own row already holds the site's key share."""
    db.session.execute(sa.select(Site.id).where(Site.id == site_id).with_for_update(key_share=True))


def _pending_due_days(operation: ControlOperation) -> set[date]:
    """The days on which a re-inspection of the operation's site is already pending, of its
    organization (another bureau's are its own work, in its own census)."""
    return set(
        db.session.scalars(
            sa.select(FollowUp.due_on).where(
                FollowUp.site_id == operation.site_id,
                FollowUp.organization_id == operation.organization_id,
                FollowUp.status == FollowUpStatus.PENDING,
                sa.or_(
                    FollowUp.control_operation_id.is_(None),
                    FollowUp.control_operation_id != operation.id,
                ),
            )
        )
    )


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
