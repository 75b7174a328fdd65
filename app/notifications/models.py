from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organization, User
from app.audit.models import Audited
from app.db import JSONType, NullableJSON, intpk, timestamp, utcnow
from app.extensions import db


def _enum(cls: type[enum.StrEnum], length: int = 30) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class NotificationKind(enum.StrEnum):
    FOLLOW_UP_DUE = "follow_up_due"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    FOLLOW_UP_ESCALATED = "follow_up_escalated"
    OBSERVATION_RETURNED = "observation_returned"
    OBSERVATION_REJECTED = "observation_rejected"
    OBSERVATION_RESUBMITTED = "observation_resubmitted"
    EXPORT_READY = "export_ready"
    EXPORT_FAILED = "export_failed"
    FOLLOW_UP_REMINDERS = "follow_up_reminders"  # one sweep's reminders to one person, grouped
    FOLLOW_UP_ASSIGNED = "follow_up_assigned"
    SURVEY_UNIT_REMINDERS = "survey_unit_reminders"  # one pass's survey unit reminders to one person


class Notification(db.Model):  # type: ignore[name-defined]
    """One event for one person: their in-app inbox item, and what e-mail and digests are made from.

    `event_key` names the event (follow_up_due:17:2026-05-04); unique per user, so however often the
    event is raised it reaches a person once.
    """

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("user_id", "event_key"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind))
    event_key: Mapped[str] = mapped_column(sa.String(120))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    # [[label, url], …] with absolute URLs (for e-mail) built from IAS_BASE_URL.
    links: Mapped[list[list[str]]] = mapped_column(JSONType, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The message by name and its values (app/notifications/messages.py), so it is written in the
    # reader's language when read; subject and body keep the text as composed, for rows made before
    # messages had keys and for keys a later version no longer knows.
    message_key: Mapped[str | None] = mapped_column(sa.String(60))
    params: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[timestamp]
    read_at: Mapped[datetime | None]
    # Set when a daily digest took it (users who chose the digest get no separate e-mail).
    digested_on: Mapped[date | None]

    user: Mapped[User] = relationship()


class DeliveryChannel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at
    SENDING = "sending"  # claimed by a sweep until lease_until
    SENT = "sent"
    # Failed for good: a permanent failure, or still failing IAS_DELIVERY_RETRY_HOURS after the first
    # attempt; last_error says why.
    FAILED = "failed"
    # Not sent, and never will be: its recipient was deactivated or switched e-mail off after it was
    # queued (last_error says which). Not a failure: nothing went wrong, and nothing is retried.
    SKIPPED = "skipped"


class Delivery(db.Model):  # type: ignore[name-defined]
    """The outbox: one message to one recipient on one channel, written in the same transaction as
    the event, sent later by the scheduler. Unique per (recipient, event_key): never sent twice.

    A sweep claims rows by setting status `sending` and a lease; a sweep that dies leaves the lease
    to expire and the next sweep sends the row again (at most once more).
    """

    __tablename__ = "deliveries"
    __table_args__ = (sa.UniqueConstraint("recipient", "event_key"),)

    id: Mapped[intpk]
    channel: Mapped[DeliveryChannel] = mapped_column(_enum(DeliveryChannel))
    # "user:12" (e-mail to that user's address) or "webhook:3".
    recipient: Mapped[str] = mapped_column(sa.String(40))
    event_key: Mapped[str] = mapped_column(sa.String(120))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    webhook_id: Mapped[int | None] = mapped_column(sa.ForeignKey("webhooks.id"))
    # The message as composed at event time: subject, body, links, data.
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # When it was first claimed: transient failures are retried until IAS_DELIVERY_RETRY_HOURS after it
    # (an outage is measured from the first try, not from when the row was queued).
    first_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(80))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[timestamp]


sa.Index("ix_deliveries_status_next_attempt_at", Delivery.status, Delivery.next_attempt_at)


class WebhookFormat(enum.StrEnum):
    GENERIC = "generic"
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人


class Webhook(Audited, db.Model):  # type: ignore[name-defined]
    """An organization's group-chat robot or HTTP endpoint that receives its follow-up reminders."""

    __tablename__ = "webhooks"
    __audit_redact__ = frozenset({"secret", "url"})

    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    url: Mapped[str] = mapped_column(sa.String(1000))
    format: Mapped[WebhookFormat] = mapped_column(_enum(WebhookFormat, 20))
    # DingTalk "加签" secret, when the robot has one.
    secret: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]

    organization: Mapped[Organization] = relationship()
