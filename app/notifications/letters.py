"""One message to one person, composed one way: in the person's language, as an inbox row and, for those
e-mailed each event, an e-mail in the outbox. Used by `services.notify_message` (one event) and by the
reminder passes (follow-ups: app/notifications/reminders.py; survey units: app/surveys/reminders.py),
which gather a pass's letters and insert them in one statement per table.

The letters of a pass that read the same rows have the same key (`group_key`), and (recipient, key) is
unique, so a pass run twice queues each letter once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_babel import force_locale

from app.accounts.models import User
from app.notifications import messages
from app.notifications.inbox import inbox_row
from app.notifications.messages import Composed
from app.notifications.models import Delivery, DeliveryChannel, Notification, NotificationKind
from app.notifications.outbox import emails_each_event, insert_ignoring_duplicates, pending_delivery

# What a letter reads of its person (Letters.to_person): a pass selects these with its rows.
RECIPIENT_COLUMNS = (
    User.display_name,
    User.email,
    User.notify_email,
    User.notify_digest,
    User.active,
    User.locale,
)


def group_key(prefix: str, middle: str, item_keys: Iterable[str]) -> str:
    """`prefix:middle:digest`, the digest of the items' own keys in any order: the same reminders make
    the same key."""
    digest = hashlib.sha256("\n".join(sorted(item_keys)).encode()).hexdigest()[:32]
    return f"{prefix}:{middle}:{digest}"


@dataclass
class Letters:
    """The letters of one pass (or one event), inserted together by `insert`."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    notifications: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_person(
        self,
        person: Any,
        *,
        user_id: int,
        kind: NotificationKind,
        key: str,
        message_key: str,
        params: dict[str, Any],
        data: dict[str, Any],
    ) -> None:
        """The message `message_key` with `params` to a person (a User, or a row of RECIPIENT_COLUMNS):
        written in their language now (for the e-mail and digests) and again in the reader's when the
        inbox shows it."""
        with force_locale(person.locale or "zh"):
            composed = messages.compose(message_key, params)
        composed.data = data
        self.composed_to(
            person,
            user_id=user_id,
            kind=kind,
            key=key,
            composed=composed,
            message_key=message_key,
            params=params,
        )

    def composed_to(
        self,
        person: Any,
        *,
        user_id: int,
        kind: NotificationKind,
        key: str,
        composed: Composed,
        message_key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """A message already written (`composed`) to a person: the inbox row, and the e-mail when they
        are e-mailed each event. Without `message_key` the inbox shows it as written."""
        self.notifications.append(
            inbox_row(user_id, kind, key, composed, self.now, message_key=message_key, params=params)
        )
        if emails_each_event(person):
            self.deliveries.append(
                pending_delivery(
                    DeliveryChannel.EMAIL, f"user:{user_id}", key, composed, self.now, user_id=user_id
                )
            )

    def to_webhook(
        self,
        webhook_id: int,
        *,
        locale: str,
        key: str,
        message_key: str,
        params: dict[str, Any],
        data: dict[str, Any],
    ) -> None:
        """The message `message_key` with `params` to an organization's group robot, in `locale`."""
        with force_locale(locale):
            composed = messages.compose(message_key, params)
        composed.data = data
        self.deliveries.append(
            pending_delivery(
                DeliveryChannel.WEBHOOK,
                f"webhook:{webhook_id}",
                key,
                composed,
                self.now,
                webhook_id=webhook_id,
            )
        )

    def insert(self) -> int:
        """Queue the letters (one statement per table; one already queued is left as it is); returns
        how many people they reach in the inbox."""
        insert_ignoring_duplicates(Notification.__table__, self.notifications)
        insert_ignoring_duplicates(Delivery.__table__, self.deliveries)
        return len(self.notifications)
