"""The daily digest: one e-mail a day, for those who chose it, listing what reached their inbox.

It runs at IAS_DIGEST_AT (the scheduler's table). Each notification is in one digest: it is marked with
the day it was digested. An event already e-mailed on its own (the reader switched to the digest after it
was queued) is marked but not repeated.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from app.accounts.models import User
from app.clock import local_today
from app.extensions import db
from app.notifications import messages
from app.notifications.messages import Composed
from app.notifications.models import Delivery, DeliveryChannel, Notification
from app.notifications.outbox import insert_ignoring_duplicates, pending_delivery


def _digest_line(item: Any) -> str:
    """One notification's subject in the active language (the digest reader's), or as stored."""
    rendered = messages.render(item.message_key, item.params)
    return item.subject if rendered is None else rendered.subject


def queue_digests(today: date | None = None) -> int:
    """One e-mail per digest reader with what reached their inbox since the last digest."""
    today = today or local_today()
    # An event already e-mailed on its own (the reader chose the digest after it was queued) is not
    # repeated in the digest; it is marked digested all the same.
    sent_alone = (
        sa.exists()
        .where(
            Delivery.channel == DeliveryChannel.EMAIL,
            Delivery.user_id == Notification.user_id,
            Delivery.event_key == Notification.event_key,
        )
        .label("sent_alone")
    )
    rows = db.session.execute(
        sa.select(
            Notification.id,
            Notification.subject,
            Notification.message_key,
            Notification.params,
            User.id.label("user_id"),
            User.locale,
            sent_alone,
        )
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.digested_on.is_(None),
            User.notify_digest.is_(True),
            User.notify_email.is_(True),
            User.email.is_not(None),
            User.active.is_(True),
        )
        .order_by(User.id, Notification.id)
    ).all()
    per_user: dict[int, list[Any]] = {}
    for row in rows:
        if not row.sent_alone:
            per_user.setdefault(row.user_id, []).append(row)
    now = datetime.now(UTC)
    deliveries = []
    for user_id, items in per_user.items():
        with force_locale(items[0].locale or "zh"):
            subject = _(
                "[Daily digest] %(count)s notifications, %(day)s", count=len(items), day=today.isoformat()
            )
            # Each item in the reader's language, as the inbox writes it; rows from before messages
            # had keys read as stored.
            body = "\n".join(f"- {_digest_line(item)}" for item in items)
            links = [[_("Open your notifications"), messages.url("/notifications")]]
        composed = Composed(
            subject, body, links, {"kind": "digest", "notification_ids": [i.id for i in items]}
        )
        deliveries.append(
            pending_delivery(
                DeliveryChannel.EMAIL,
                f"user:{user_id}",
                f"digest:{today.isoformat()}",
                composed,
                now,
                user_id=user_id,
            )
        )
    insert_ignoring_duplicates(Delivery.__table__, deliveries)
    if rows:
        table = Notification.__table__
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("nid")).values(digested_on=today),
            [{"nid": row.id} for row in rows],
            execution_options={"synchronize_session": False},
        )
    return len(deliveries)
