"""The in-app inbox: one `Notification` row per event per person, read in the reader's language.

Rows are written by raising an event (app/notifications/services.py) or by a reminder pass
(app/notifications/reminders.py), in the same transaction as what caused them; (user, event_key) is
unique, so however often an event is raised it reaches a person once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.notifications import messages
from app.notifications.messages import Composed
from app.notifications.models import Notification, NotificationKind


def inbox_row(
    user_id: int,
    kind: NotificationKind,
    event_key: str,
    composed: Composed,
    now: datetime | None = None,
    *,
    message_key: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An inbox row to insert (outbox.insert_ignoring_duplicates). With `message_key` and `params`
    (app/notifications/messages.py) it is written in the reader's language when read; `composed` is
    its text now, kept for e-mail digests and for rows whose message has no key."""
    return {
        "user_id": user_id,
        "kind": kind,
        "event_key": event_key,
        "subject": composed.subject[:300],
        "body": composed.body,
        "links": composed.links,
        "data": composed.data,
        "message_key": message_key,
        "params": params,
        "created_at": now or datetime.now(UTC),
    }


def inbox(user: User, *, unread_only: bool = False) -> sa.Select[tuple[Notification]]:
    stmt = sa.select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.id.desc())


def shown(notification: Notification) -> Composed:
    """A notification's subject, body and links in the active language (the reader's), or as stored
    for rows kept from before messages had keys."""
    rendered = messages.render(notification.message_key, notification.params)
    if rendered is None:
        return Composed(notification.subject, notification.body, notification.links or [])
    return rendered


def unread_count(user: User) -> int:
    """How many of a user's notifications are unread (the header and tab bar badge)."""
    stmt = sa.select(sa.func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    return int(db.session.scalar(stmt) or 0)


def mark_read(user: User, notification_ids: list[int] | None) -> int:
    """Mark some (or, with None, all) of a user's notifications read; returns how many changed."""
    stmt = sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(notification_ids))
    result = db.session.execute(
        stmt.values(read_at=datetime.now(UTC)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
