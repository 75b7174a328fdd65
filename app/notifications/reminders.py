"""Follow-up reminders: due today and overdue (to the assignee, with a copy to the supervisor), and
overdue long enough to escalate (to the supervisor). The supervisor is the organization's as things are
when the reminder is raised (app/control/staff.py, `refresh_supervisors`).

Set-based: the statements are the same however many follow-ups are due (one read per kind, one bulk
insert per table, one bulk mark per kind). Each person gets one message per pass for everything it
reminds them of, and each organization's group robots (webhooks) one message for its due and overdue
re-inspections. A follow-up is marked with the due date it was reminded of, so a second pass (or a
second scheduler) raises nothing new; a new due date is news again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.clock import local_today
from app.control.models import FollowUp, FollowUpStatus
from app.control.staff import refresh_supervisors
from app.district.models import Township
from app.extensions import db
from app.notifications.letters import RECIPIENT_COLUMNS, Letters, group_key
from app.notifications.models import NotificationKind, Webhook
from app.sites.models import Site
from app.species.models import Species


@dataclass
class QueueReport:
    due: int = 0
    overdue: int = 0
    escalated: int = 0
    supervised: int = 0  # due and overdue reminders also sent to the follow-ups' supervisors


def _follow_up_rows(condition: sa.ColumnElement[bool], person: Any) -> list[Any]:
    """Follow-ups matching `condition` with what a reminder says, and the person it goes to."""
    stmt = (
        sa.select(
            FollowUp.id,
            FollowUp.due_on,
            FollowUp.offset_days,
            FollowUp.organization_id,
            FollowUp.assignee_id,
            Site.id.label("site_id"),
            Site.code.label("site_code"),
            Site.place_name,
            Species.name_zh.label("species"),
            Township.name_zh.label("township"),
            User.id.label("user_id"),
            *RECIPIENT_COLUMNS,
        )
        .join(Site, Site.id == FollowUp.site_id)
        .join(Species, Species.id == Site.species_id)
        .outerjoin(Township, Township.id == Site.township_id)
        .join(User, User.id == person)
        .where(condition)
        .order_by(FollowUp.due_on, FollowUp.id)
        # Two sweeps at once (PostgreSQL): each follow-up is taken by one of them, which marks it
        # before it lets go, so the reminders of one follow-up never land in two letters. (SQLite
        # lets one writer at a time: the later sweep's write fails and it rolls back whole.)
        .with_for_update(of=FollowUp, skip_locked=True)
    )
    return list(db.session.execute(stmt).all())


def _reminder_item(
    kind: NotificationKind, row: Any, today: date, assignee_name: str | None
) -> dict[str, Any]:
    """What a reminder says about one follow-up: plain values, written out in the reader's language."""
    place = "".join(p for p in (row.township, row.place_name) if p)
    return {
        "kind": kind.value,
        "key": f"{kind.value}:{row.id}:{row.due_on.isoformat()}",
        "follow_up_id": row.id,
        "site_id": row.site_id,
        "site": row.site_code,
        "species": row.species,
        "place": place or "-",
        "due": row.due_on.isoformat(),
        "days": max((today - row.due_on).days, 0),
        "assignee": assignee_name or "-",
    }


def _group_key(items: list[dict[str, Any]]) -> str:
    """The same reminders make the same key, so two sweeps that read the same rows queue one message."""
    middle = items[0]["due"] if len(items) == 1 else "group"
    return group_key(NotificationKind.FOLLOW_UP_REMINDERS.value, middle, (i["key"] for i in items))


def _reminder_data(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The machine-readable part (webhook JSON, the API): one entry per follow-up."""
    return {
        "kind": NotificationKind.FOLLOW_UP_REMINDERS.value,
        "items": [
            {
                "kind": i["kind"],
                "follow_up_id": i["follow_up_id"],
                "site_id": i["site_id"],
                "site_code": i["site"],
                "due_on": i["due"],
                "days_overdue": i["days"],
                # The supervisor's copy of a due or overdue reminder (the re-inspection is someone else's).
                "supervised": bool(i.get("supervised")),
            }
            for i in items
        ],
    }


def queue_follow_up_reminders(today: date | None = None) -> QueueReport:
    """Raise due, overdue and escalation reminders not yet raised for each follow-up's due date.

    Each person gets one message for everything this pass reminds them of, and each organization's
    group robots one message for its due and overdue re-inspections. The statements are the same
    whatever the number due: one read per kind, one bulk insert per table, one bulk mark per kind.
    """
    today = today or local_today()
    escalate_before = today - timedelta(days=int(current_app.config["IAS_ESCALATE_AFTER_DAYS"]))
    pending = FollowUp.status == FollowUpStatus.PENDING
    # The supervisor's copy of a due or overdue reminder (docs/contract.md §1: supervisors get reminders
    # for due and overdue re-inspections), unless the supervisor is the assignee.
    supervised = sa.and_(
        FollowUp.supervisor_id.is_not(None),
        FollowUp.supervisor_id.is_distinct_from(FollowUp.assignee_id),
    )
    due = sa.and_(pending, FollowUp.due_on == today, _not_marked(FollowUp.reminded_due_on))
    overdue = sa.and_(FollowUp.overdue_on(today), _not_marked(FollowUp.reminded_overdue_on))
    escalate = sa.and_(pending, FollowUp.due_on <= escalate_before, _not_marked(FollowUp.escalated_on))
    # Escalations and the supervisors' copies go to the supervisor as things are now, not when the
    # follow-up was made (one appointed or deactivated since): those this pass reminds of are brought up
    # to date first.
    refresh_supervisors(sa.or_(due, overdue, escalate))
    # (kind, condition, to whom, the mark it sets, whether the reader is the supervisor)
    kinds = (
        (NotificationKind.FOLLOW_UP_DUE, due, FollowUp.assignee_id, "reminded_due_on", False),
        (
            NotificationKind.FOLLOW_UP_DUE,
            sa.and_(due, supervised),
            FollowUp.supervisor_id,
            "reminded_due_on",
            True,
        ),
        (NotificationKind.FOLLOW_UP_OVERDUE, overdue, FollowUp.assignee_id, "reminded_overdue_on", False),
        (
            NotificationKind.FOLLOW_UP_OVERDUE,
            # Not those late enough to escalate: the escalation tells the supervisor of them.
            sa.and_(overdue, supervised, FollowUp.due_on > escalate_before),
            FollowUp.supervisor_id,
            "reminded_overdue_on",
            True,
        ),
        (NotificationKind.FOLLOW_UP_ESCALATED, escalate, FollowUp.supervisor_id, "escalated_on", False),
    )
    report = QueueReport()
    per_person: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
    per_organization: dict[int, list[dict[str, Any]]] = {}
    marks: dict[str, dict[int, dict[str, Any]]] = {}
    names: dict[int, str] | None = None
    read = [
        (kind, _follow_up_rows(condition, person), marker, to_supervisor)
        for kind, condition, person, marker, to_supervisor in kinds
    ]
    # Who each follow-up is assigned to, for the readers who are not its assignee: one read, whatever
    # the number.
    ids = {
        row.assignee_id
        for kind, rows, _marker, to_supervisor in read
        if to_supervisor or kind is NotificationKind.FOLLOW_UP_ESCALATED
        for row in rows
        if row.assignee_id
    }
    if ids:
        names = dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())
    # A site's day left twice for one organization by earlier versions (docs/census.md, Re-inspections
    # due) is one re-inspection: each reader is reminded of it once, for the oldest copy they are told of
    # (the rows come by due day, then id), and the organization's robots once; a copy assigned to someone
    # else still reaches them. Every copy is marked all the same.
    told: set[tuple[Any, ...]] = set()
    posted: set[tuple[Any, ...]] = set()
    for kind, rows, marker, to_supervisor in read:
        reminded = 0
        for row in rows:
            visit = (kind, to_supervisor, row.user_id, row.organization_id, row.site_id, row.due_on)
            if visit in told:
                continue
            told.add(visit)
            reminded += 1
            assignee = (names or {}).get(row.assignee_id) if row.assignee_id else None
            item = _reminder_item(kind, row, today, assignee)
            if to_supervisor:
                item["supervised"] = True
            per_person.setdefault(row.user_id, (row, []))[1].append(item)
            robots = (kind, row.organization_id, row.site_id, row.due_on)
            to_robots = kind is not NotificationKind.FOLLOW_UP_ESCALATED and not to_supervisor
            if to_robots and robots not in posted:
                posted.add(robots)
                per_organization.setdefault(row.organization_id, []).append(item)
        # Marked once per follow-up and due date, whoever was told (a follow-up without an assignee
        # reaches only its supervisor, and is marked all the same).
        marked = marks.setdefault(marker, {})
        for row in rows:
            marked[row.id] = {"fid": row.id, "day": row.due_on}
        if to_supervisor:
            report.supervised += reminded
        else:
            field = kind.value.removeprefix("follow_up_")
            setattr(report, field, getattr(report, field) + reminded)
    if not any(marks.values()):
        return report

    letters = Letters()
    for user_id, (person_row, items) in per_person.items():
        letters.to_person(
            person_row,
            user_id=user_id,
            kind=NotificationKind.FOLLOW_UP_REMINDERS,
            key=_group_key(items),
            message_key="follow_up_reminders",
            params={"name": person_row.display_name, "items": items},
            data=_reminder_data(items),
        )
    if per_organization:
        hooks = db.session.scalars(
            sa.select(Webhook)
            .options(joinedload(Webhook.organization))
            .where(Webhook.active.is_(True), Webhook.organization_id.in_(list(per_organization)))
        )
        default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
        for hook in hooks:
            items = per_organization[hook.organization_id]
            letters.to_webhook(
                hook.id,
                locale=default_locale,
                key=_group_key(items),
                message_key="follow_up_reminders",
                params={"name": hook.organization.name, "items": items},
                data=_reminder_data(items),
            )
    letters.insert()
    table = FollowUp.__table__
    for marker, rows_marked in marks.items():
        if not rows_marked:
            continue
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("fid")).values({marker: sa.bindparam("day")}),
            list(rows_marked.values()),
            execution_options={"synchronize_session": False},
        )
    return report


def _not_marked(column: Any) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column != FollowUp.due_on)
