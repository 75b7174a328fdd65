"""Re-inspections left twice on one site and day: found, and merged into the oldest.

Since scheduling joins a re-inspection already pending for the site, day and organization
(app/control/schedule.py), no new duplicate is made; data from earlier versions can still hold two or
more pending follow-ups of one site, due day and organization. The census counts them once
(docs/census.md, Re-inspections due), but each is reminded and listed on its own. `flask control
merge-duplicate-reinspections` keeps the oldest pending one of each such group and cancels the others,
each with a reason naming the one it was merged into and an audit row (written by the flush, as every
change of a follow-up is); nothing is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import groupby

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from app.control.models import FollowUp, FollowUpStatus
from app.extensions import db


@dataclass
class Merged:
    """One site, due day and organization: the re-inspection kept and those cancelled into it."""

    site_code: str
    due_on: date
    organization_id: int
    kept: FollowUp
    cancelled: list[FollowUp] = field(default_factory=list)


def _groups() -> sa.Select[int, date, int]:
    """The site, due day and organization of every group of two or more pending follow-ups."""
    return (
        sa.select(FollowUp.site_id, FollowUp.due_on, FollowUp.organization_id)
        .where(FollowUp.status == FollowUpStatus.PENDING)
        .group_by(FollowUp.site_id, FollowUp.due_on, FollowUp.organization_id)
        .having(sa.func.count() > 1)
    )


def duplicate_pending(*, lock: bool = False) -> list[Merged]:
    """The groups of pending follow-ups sharing a site, due day and organization, the oldest of each
    (first made, then the lowest id) as the one to keep. `lock`: the rows are held until the unit of
    work ends (PostgreSQL), so a completion arriving meanwhile waits, and one completed just before is
    no longer pending here."""
    groups = _groups().subquery()
    stmt = (
        sa.select(FollowUp)
        .join(
            groups,
            sa.and_(
                groups.c.site_id == FollowUp.site_id,
                groups.c.due_on == FollowUp.due_on,
                groups.c.organization_id == FollowUp.organization_id,
            ),
        )
        .where(FollowUp.status == FollowUpStatus.PENDING)
        .order_by(
            FollowUp.organization_id, FollowUp.site_id, FollowUp.due_on, FollowUp.created_at, FollowUp.id
        )
    )
    if lock:
        stmt = stmt.with_for_update(of=FollowUp)
    found: list[Merged] = []
    rows = db.session.scalars(stmt).all()
    for _key, same in groupby(rows, key=lambda f: (f.organization_id, f.site_id, f.due_on)):
        kept, *others = list(same)
        if others:  # two or more still pending (a completion may have landed before the lock)
            found.append(Merged(kept.site.code, kept.due_on, kept.organization_id, kept, others))
    return found


def merge_duplicate_pending(*, dry_run: bool = False) -> list[Merged]:
    """Cancel every pending follow-up that repeats an older one of its site, due day and organization,
    with a reason naming the one kept (in the district's language: the supervisors read it on the
    follow-up's page). `dry_run`: find them and change nothing. Returns the groups."""
    found = duplicate_pending(lock=not dry_run)
    if dry_run:
        return found
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for group in found:
            reason = _(
                "A duplicate of re-inspection %(id)s of the same site and day, merged into it.",
                id=group.kept.id,
            )
            for follow_up in group.cancelled:
                follow_up.status = FollowUpStatus.CANCELLED
                follow_up.cancelled_reason = reason
    db.session.flush()
    return found
