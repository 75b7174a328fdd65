"""Reminders about survey units (docs/surveys.md, Reminders).

- **Due soon**: a unit *not started* (app/surveys/coverage.py) whose due day is within
  IAS_SURVEY_REMIND_DAYS_BEFORE days (today included) reminds its assignee, once a day.
- **Overdue**: a unit not covered after its due day is reported to the campaign's supervisors (the
  campaign's creator when a supervisor, bureau admin or admin and still active; else the active bureau
  admins of the campaign's bureau), once a day on each of its first IAS_SURVEY_OVERDUE_REMINDER_DAYS days
  overdue.

Each person gets one message per pass for everything it reminds them of, through the notifications inbox
and outbox (e-mail each event, or the daily digest for those who chose it), composed as every reminder
is (app/notifications/letters.py). Every reminder raised is
marked (`UnitReminder`: unit, kind, day) in the same unit of work as the messages, so a pass run twice, or
again after a crash (which rolls back both), never reminds anyone twice of one unit on one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import Role, User
from app.clock import local_today
from app.extensions import db
from app.notifications.letters import RECIPIENT_COLUMNS, Letters, group_key
from app.notifications.models import NotificationKind
from app.notifications.outbox import insert_ignoring_duplicates
from app.surveys import coverage
from app.surveys.models import Campaign, SurveyUnit, UnitReminder

DUE = "due_soon"
OVERDUE = "overdue"
SUPERVISING = frozenset({Role.SUPERVISOR, Role.BUREAU_ADMIN, Role.ADMIN})


@dataclass
class UnitReminderReport:
    due: int = 0
    overdue: int = 0
    messages: int = 0

    def __str__(self) -> str:
        if not (self.due or self.overdue):
            return ""
        return f"survey units reminded: {self.due} due soon, {self.overdue} overdue; {self.messages} messages"


def _candidates(today: date) -> list[Any]:
    """Units whose due day is near or recently past, not yet reminded today (one statement)."""
    ahead = today + timedelta(days=int(current_app.config["IAS_SURVEY_REMIND_DAYS_BEFORE"]))
    behind = today - timedelta(days=int(current_app.config["IAS_SURVEY_OVERDUE_REMINDER_DAYS"]))
    return list(
        db.session.execute(
            sa.select(
                SurveyUnit.id,
                SurveyUnit.campaign_id,
                SurveyUnit.assignee_id,
                SurveyUnit.due_on,
                Campaign.name.label("campaign"),
                Campaign.organization_id,
                Campaign.created_by_id,
            )
            .join(Campaign, Campaign.id == SurveyUnit.campaign_id)
            .where(SurveyUnit.due_on.is_not(None), SurveyUnit.due_on.between(behind, ahead))
            .order_by(SurveyUnit.campaign_id, SurveyUnit.due_on, SurveyUnit.id)
        ).all()
    )


def _already(today: date, unit_ids: list[int]) -> set[tuple[int, str]]:
    if not unit_ids:
        return set()
    rows = db.session.execute(
        sa.select(UnitReminder.unit_id, UnitReminder.kind).where(
            UnitReminder.day == today, UnitReminder.unit_id.in_(unit_ids)
        )
    ).all()
    return {(unit_id, kind) for unit_id, kind in rows}


def _people(ids: set[int], organization_ids: set[int]) -> tuple[dict[int, Any], dict[int, list[Any]]]:
    """The users named (assignees, creators) and each bureau's active bureau admins: one statement."""
    columns = (User.id, *RECIPIENT_COLUMNS, User.role, User.organization_id)
    rows = db.session.execute(
        sa.select(*columns).where(
            sa.or_(
                User.id.in_(sorted(ids)),
                sa.and_(
                    User.organization_id.in_(sorted(organization_ids)),
                    User.role == Role.BUREAU_ADMIN,
                    User.active.is_(True),
                ),
            )
        )
    ).all()
    by_id = {row.id: row for row in rows}
    admins: dict[int, list[Any]] = {}
    for row in rows:
        if row.role == Role.BUREAU_ADMIN and row.active:
            admins.setdefault(row.organization_id, []).append(row)
    return by_id, admins


def _supervisors(candidate: Any, people: dict[int, Any], admins: dict[int, list[Any]]) -> list[Any]:
    creator = people.get(candidate.created_by_id)
    if creator is not None and creator.active and Role(creator.role) in SUPERVISING:
        return [creator]
    return admins.get(candidate.organization_id, [])


def _group_key(items: list[dict[str, Any]]) -> str:
    """The same reminders make the same key, so two passes that read the same rows queue one message."""
    return group_key(NotificationKind.SURVEY_UNIT_REMINDERS.value, items[0]["day"], (i["key"] for i in items))


def _reminder_data(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The machine-readable part (the API): one entry per unit."""
    return {
        "kind": NotificationKind.SURVEY_UNIT_REMINDERS.value,
        "items": [
            {
                "kind": i["kind"],
                "unit_id": i["unit_id"],
                "campaign_id": i["campaign_id"],
                "due_on": i["due"],
                "days_overdue": i["days"],
            }
            for i in items
        ],
    }


def queue_unit_reminders(today: date | None = None) -> UnitReminderReport:
    """Raise today's survey unit reminders not yet raised (docs/surveys.md, Reminders). Never commits."""
    today = today or local_today()
    report = UnitReminderReport()
    candidates = _candidates(today)
    if not candidates:
        return report
    done = _already(today, [c.id for c in candidates])
    # The status of each unit: one coverage per campaign concerned (three statements each).
    statuses: dict[int, coverage.UnitCoverage] = {}
    for campaign_id in sorted({c.campaign_id for c in candidates}):
        for judged in coverage.compute(campaign_id, today=today).units:
            statuses[judged.unit_id] = judged
    people, admins = _people(
        {c.assignee_id for c in candidates if c.assignee_id} | {c.created_by_id for c in candidates},
        {c.organization_id for c in candidates},
    )

    per_person: dict[int, list[dict[str, Any]]] = {}
    marks: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for candidate in candidates:
        unit = statuses.get(candidate.id)
        if unit is None:
            continue
        if candidate.due_on >= today:
            kind, recipients = DUE, [people.get(candidate.assignee_id)] if candidate.assignee_id else []
            if unit.status is not coverage.Status.NOT_STARTED:
                continue
        else:
            kind, recipients = OVERDUE, _supervisors(candidate, people, admins)
            if unit.status is coverage.Status.COVERED:
                continue
        if (candidate.id, kind) in done:
            continue
        item = {
            "kind": f"survey_unit_{'due' if kind == DUE else 'overdue'}",
            "key": f"{kind}:{candidate.id}:{today.isoformat()}",
            "day": today.isoformat(),
            "unit_id": candidate.id,
            "campaign_id": candidate.campaign_id,
            "campaign": candidate.campaign,
            "unit": unit.name,
            "township": unit.township_name,
            "due": candidate.due_on.isoformat(),
            "days": max((today - candidate.due_on).days, 0),
            "assignee": unit.assignee_name or "-",
        }
        reached = False
        for person in recipients:
            if person is None or not person.active:
                continue
            per_person.setdefault(person.id, []).append(item)
            reached = True
        if reached:
            marks.append({"unit_id": candidate.id, "kind": kind, "day": today, "created_at": now})
            if kind == DUE:
                report.due += 1
            else:
                report.overdue += 1
    if not marks:
        return report

    letters = Letters(now=now)
    for user_id, items in per_person.items():
        person = people[user_id]
        letters.to_person(
            person,
            user_id=user_id,
            kind=NotificationKind.SURVEY_UNIT_REMINDERS,
            key=_group_key(items),
            message_key="survey_unit_reminders",
            params={"name": person.display_name, "items": items},
            data=_reminder_data(items),
        )
    report.messages = letters.insert()
    insert_ignoring_duplicates(UnitReminder.__table__, marks)
    return report
