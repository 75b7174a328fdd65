"""Raising notifications, and the outbox sweep that delivers them.

Events write a `Notification` (the in-app inbox) and, for e-mail and webhooks, a `Delivery` row in the
same transaction as the change that caused them; nothing is sent from a request. The scheduler's sweep
(or `flask reminders send-due`) then:

1. queues reminders for follow-ups due today, overdue, and overdue long enough to escalate — a fixed
   number of statements however many are due (one read per kind, bulk inserts, bulk marks);
2. claims pending deliveries with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises
   writers), sends each, and marks it sent, or schedules a retry with doubling backoff, or gives up
   after IAS_DELIVERY_MAX_ATTEMPTS and records why.

A sweep killed between claiming and marking leaves leases that expire; the next sweep sends those rows
once more. Unique (user, event) and (recipient, event) keys mean an event never produces a second row.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import queue
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.clock import local_today, local_zone
from app.control.models import FollowUp, FollowUpStatus
from app.district.models import Township
from app.extensions import db
from app.notifications import channels, messages
from app.notifications.messages import Composed as Composed  # also raised by exports
from app.notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationKind,
    SchedulerLease,
    Webhook,
)
from app.sites.models import Site
from app.species.models import Species

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


def process_owner() -> str:
    """Names this process in leases (host, pid and a random part: pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _insert_ignoring_duplicates(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One executemany INSERT … ON CONFLICT DO NOTHING (both databases support it)."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    db.session.execute(insert.on_conflict_do_nothing(), rows)


def _url(path: str) -> str:
    return messages.url(path)


# ---------------------------------------------------------------------------------------------
# Raising one event (inside the caller's transaction)


def _email_delivery_row(user: User, event_key: str, composed: Composed) -> dict[str, Any] | None:
    if not (user.notify_email and user.email and not user.notify_digest and user.active):
        return None
    return {
        "channel": DeliveryChannel.EMAIL,
        "recipient": f"user:{user.id}",
        "event_key": event_key,
        "user_id": user.id,
        "message": composed.as_message(),
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": datetime.now(UTC),
        "created_at": datetime.now(UTC),
    }


def notify(
    user: User,
    kind: NotificationKind,
    event_key: str,
    composed: Composed,
    *,
    message_key: str | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Put an event in a person's inbox and, by their choice, the e-mail outbox (once per event).

    With `message_key` and `params` (app/notifications/messages.py) the inbox writes the message in
    the reader's language when it is read; `composed` is its text in the recipient's language now.
    """
    now = datetime.now(UTC)
    _insert_ignoring_duplicates(
        Notification.__table__,
        [
            {
                "user_id": user.id,
                "kind": kind,
                "event_key": event_key,
                "subject": composed.subject[:300],
                "body": composed.body,
                "links": composed.links,
                "data": composed.data,
                "message_key": message_key,
                "params": params,
                "created_at": now,
            }
        ],
    )
    row = _email_delivery_row(user, event_key, composed)
    _insert_ignoring_duplicates(Delivery.__table__, [row] if row else [])


def notify_message(
    user: User,
    kind: NotificationKind,
    event_key: str,
    message_key: str,
    params: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """`notify` with a named message, composed in the recipient's language for the e-mail."""
    with force_locale(user.locale or "zh"):
        composed = messages.compose(message_key, params)
    composed.data = data
    notify(user, kind, event_key, composed, message_key=message_key, params=params)


def notify_review(observation: Any) -> None:
    """Tell the surveyor their record was returned or rejected, with the verifier's comment."""
    returned = observation.status.value == "returned"
    kind = NotificationKind.OBSERVATION_RETURNED if returned else NotificationKind.OBSERVATION_REJECTED
    params = {
        "returned": returned,
        "id": observation.id,
        "species": observation.species.name_zh,
        "when": observation.observed_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"),
        "comment": observation.review_comment or "",
    }
    key = f"{kind.value}:{observation.id}:{observation.reviewed_at.isoformat()}"
    data = {"kind": kind.value, "observation_id": observation.id}
    notify_message(observation.surveyor, kind, key, "observation_reviewed", params, data)


def _place(site: Site) -> str:
    township = site.township.name_zh if site.township is not None else None
    return "".join(p for p in (township, site.place_name) if p) or "-"


def notify_assigned(follow_up: FollowUp, *, actor: User) -> None:
    """Tell the new assignee of a reassigned follow-up (in-app, and e-mail by their settings)."""
    assignee = db.session.get(User, follow_up.assignee_id) if follow_up.assignee_id else None
    if assignee is None or assignee.id == actor.id:
        return
    site = follow_up.site
    params = {
        "follow_up_id": follow_up.id,
        "site_id": site.id,
        "site": site.code,
        "species": site.species.name_zh,
        "place": _place(site),
        "due": follow_up.due_on.isoformat(),
        "name": assignee.display_name,
        "by": actor.display_name,
    }
    # One event per assignment: a later reassignment back to the same person is news again.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    key = f"follow_up_assigned:{follow_up.id}:{assignee.id}:{stamp}"
    data = {"kind": "follow_up_assigned", "follow_up_id": follow_up.id, "site_id": site.id}
    notify_message(assignee, NotificationKind.FOLLOW_UP_ASSIGNED, key, "follow_up_assigned", params, data)


def notify_resubmitted(observation: Any, returned_at: datetime) -> None:
    """Tell the verifier who returned a record that its surveyor has changed it and sent it back."""
    verifier = db.session.get(User, observation.reviewed_by_id) if observation.reviewed_by_id else None
    if verifier is None or not verifier.active:
        return
    with force_locale(verifier.locale or "zh"):
        subject = _(
            "[Resubmitted] The %(species)s record you returned was changed",
            species=observation.species.name_zh,
        )
        body = _(
            "Record %(id)s (%(species)s, %(when)s) was changed by %(surveyor)s "
            "and waits for your review again.",
            id=observation.id,
            species=observation.species.name_zh,
            when=observation.observed_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"),
            surveyor=observation.surveyor.display_name,
        )
        links = [[_("Open the record"), _url(f"/observations/{observation.id}")]]
    kind = NotificationKind.OBSERVATION_RESUBMITTED
    # One per return: the same changes sent twice (a retry) notify once.
    key = f"{kind.value}:{observation.id}:{returned_at.isoformat()}"
    notify(
        verifier,
        kind,
        key,
        Composed(subject, body, links, {"kind": kind.value, "observation_id": observation.id}),
    )


# ---------------------------------------------------------------------------------------------
# Follow-up reminders (set-based: the statement count does not grow with the number due), grouped
# into one message per person per sweep.


@dataclass
class QueueReport:
    due: int = 0
    overdue: int = 0
    escalated: int = 0


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
            User.display_name,
            User.email,
            User.notify_email,
            User.notify_digest,
            User.active,
            User.locale,
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


def _group_key(prefix: str, items: list[dict[str, Any]]) -> str:
    """The same reminders make the same key, so two sweeps that read the same rows queue one message."""
    digest = hashlib.sha256("\n".join(sorted(i["key"] for i in items)).encode()).hexdigest()[:32]
    return f"{prefix}:{items[0]['due'] if len(items) == 1 else 'group'}:{digest}"


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
    kinds = (
        (
            NotificationKind.FOLLOW_UP_DUE,
            sa.and_(pending, FollowUp.due_on == today, _not_marked(FollowUp.reminded_due_on)),
            FollowUp.assignee_id,
            "reminded_due_on",
        ),
        (
            NotificationKind.FOLLOW_UP_OVERDUE,
            sa.and_(FollowUp.overdue_on(today), _not_marked(FollowUp.reminded_overdue_on)),
            FollowUp.assignee_id,
            "reminded_overdue_on",
        ),
        (
            NotificationKind.FOLLOW_UP_ESCALATED,
            sa.and_(pending, FollowUp.due_on <= escalate_before, _not_marked(FollowUp.escalated_on)),
            FollowUp.supervisor_id,
            "escalated_on",
        ),
    )
    report = QueueReport()
    per_person: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
    per_organization: dict[int, list[dict[str, Any]]] = {}
    marks: dict[str, list[dict[str, Any]]] = {}
    names: dict[int, str] | None = None
    for kind, condition, person, marker in kinds:
        rows = _follow_up_rows(condition, person)
        if not rows:
            continue
        if kind is NotificationKind.FOLLOW_UP_ESCALATED and names is None:
            ids = {r.assignee_id for r in rows if r.assignee_id}
            names = dict(
                db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all()
            )
        for row in rows:
            assignee = (names or {}).get(row.assignee_id) if row.assignee_id else None
            item = _reminder_item(kind, row, today, assignee)
            per_person.setdefault(row.user_id, (row, []))[1].append(item)
            if kind is not NotificationKind.FOLLOW_UP_ESCALATED:
                per_organization.setdefault(row.organization_id, []).append(item)
        marks[marker] = [{"fid": row.id, "day": row.due_on} for row in rows]
        setattr(report, kind.value.removeprefix("follow_up_"), len(rows))
    if not marks:
        return report

    now = datetime.now(UTC)
    notifications, deliveries = [], []
    for user_id, (person_row, items) in per_person.items():
        key = _group_key(NotificationKind.FOLLOW_UP_REMINDERS.value, items)
        params = {"name": person_row.display_name, "items": items}
        with force_locale(person_row.locale or "zh"):
            composed = messages.follow_up_reminders(params)
        composed.data = _reminder_data(items)
        notifications.append(
            {
                "user_id": user_id,
                "kind": NotificationKind.FOLLOW_UP_REMINDERS,
                "event_key": key,
                "subject": composed.subject[:300],
                "body": composed.body,
                "links": composed.links,
                "data": composed.data,
                "message_key": "follow_up_reminders",
                "params": params,
                "created_at": now,
            }
        )
        if (
            person_row.active
            and person_row.email
            and person_row.notify_email
            and not person_row.notify_digest
        ):
            deliveries.append(
                _delivery(DeliveryChannel.EMAIL, f"user:{user_id}", key, composed, now, user_id=user_id)
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
            key = _group_key(NotificationKind.FOLLOW_UP_REMINDERS.value, items)
            with force_locale(default_locale):
                composed = messages.follow_up_reminders({"name": hook.organization.name, "items": items})
            composed.data = _reminder_data(items)
            deliveries.append(
                _delivery(
                    DeliveryChannel.WEBHOOK, f"webhook:{hook.id}", key, composed, now, webhook_id=hook.id
                )
            )
    _insert_ignoring_duplicates(Notification.__table__, notifications)
    _insert_ignoring_duplicates(Delivery.__table__, deliveries)
    table = FollowUp.__table__
    for marker, rows_marked in marks.items():
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("fid")).values({marker: sa.bindparam("day")}),
            rows_marked,
            execution_options={"synchronize_session": False},
        )
    return report


def _not_marked(column: Any) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column != FollowUp.due_on)


def _delivery(
    channel: DeliveryChannel,
    recipient: str,
    key: str,
    composed: Composed,
    now: datetime,
    *,
    user_id: int | None = None,
    webhook_id: int | None = None,
) -> dict[str, Any]:
    return {
        "channel": channel,
        "recipient": recipient,
        "event_key": key,
        "user_id": user_id,
        "webhook_id": webhook_id,
        "message": composed.as_message(),
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


# ---------------------------------------------------------------------------------------------
# Daily digest


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
            links = [[_("Open your notifications"), _url("/notifications")]]
        composed = Composed(
            subject, body, links, {"kind": "digest", "notification_ids": [i.id for i in items]}
        )
        deliveries.append(
            _delivery(
                DeliveryChannel.EMAIL,
                f"user:{user_id}",
                f"digest:{today.isoformat()}",
                composed,
                now,
                user_id=user_id,
            )
        )
    _insert_ignoring_duplicates(Delivery.__table__, deliveries)
    if rows:
        table = Notification.__table__
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("nid")).values(digested_on=today),
            [{"nid": row.id} for row in rows],
            execution_options={"synchronize_session": False},
        )
    return len(deliveries)


# ---------------------------------------------------------------------------------------------
# Delivering


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Claimed:
    """What sending one delivery needs, read while claiming it, so that no transaction stays open
    (and, on SQLite, no write lock is held) while talking to a mail server or a webhook."""

    id: int
    channel: DeliveryChannel
    attempts: int
    message: dict[str, Any]
    email: str | None = None
    webhook_url: str | None = None
    webhook_format: str | None = None
    webhook_secret: str | None = None
    webhook_active: bool = False
    # Deliveries in one lane go one after the other; lanes go side by side (`send_claimed`).
    lane: str = "email"
    delivery_id: str = ""


def claim(owner: str, *, limit: int = 200, now: datetime | None = None) -> list[Claimed]:
    """Take up to `limit` deliveries that are due (or whose claim lapsed) for `owner`, and commit."""
    now = now or datetime.now(UTC)
    lease = timedelta(seconds=int(current_app.config["IAS_DELIVERY_LEASE_SECONDS"]))
    claimable = sa.or_(
        sa.and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
        sa.and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
    )
    ids = list(
        db.session.scalars(
            sa.select(Delivery.id)
            .where(claimable)
            .order_by(Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    claimed: list[Claimed] = []
    if ids:
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(
                status=DeliveryStatus.SENDING,
                lease_until=now + lease,
                lease_owner=owner,
                attempts=Delivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        rows = db.session.execute(
            sa.select(
                Delivery.id,
                Delivery.channel,
                Delivery.attempts,
                Delivery.message,
                User.email,
                Webhook.url,
                Webhook.format,
                Webhook.secret,
                Webhook.active,
                Webhook.organization_id,
            )
            .outerjoin(User, User.id == Delivery.user_id)
            .outerjoin(Webhook, Webhook.id == Delivery.webhook_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        ).all()
        claimed = [
            Claimed(
                id=row[0],
                channel=row[1],
                attempts=row[2],
                message=row[3],
                email=row[4],
                webhook_url=row[5],
                webhook_format=row[6].value if row[6] is not None else None,
                webhook_secret=row[7],
                webhook_active=bool(row[8]),
                lane=f"organization:{row[9]}" if row[9] is not None else "email",
                delivery_id=delivery_id(row[0]),
            )
            for row in rows
        ]
    db.session.commit()
    return claimed


def delivery_id(delivery: int) -> str:
    """The delivery's id for receivers: the same on every retry, unique to this installation (it is
    made from IAS_BASE_URL and the outbox row), sent as X-IAS-Delivery-Id, in the e-mail's Message-ID
    and in a generic webhook's payload, so that a receiver can drop a repeat."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{current_app.config['IAS_BASE_URL']}/deliveries/{delivery}"))


@dataclass(frozen=True)
class SendSettings:
    """What sending needs from the configuration, read once in the app context (senders run in threads)."""

    smtp: channels.SmtpSettings | None
    webhook_allowed_hosts: frozenset[str]
    webhook_timeout_s: float


def _send_settings() -> SendSettings:
    config = current_app.config
    smtp = None
    if config.get("MAIL_SERVER"):
        smtp = channels.SmtpSettings(
            host=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            sender=config["MAIL_DEFAULT_SENDER"],
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
        )
    return SendSettings(
        smtp=smtp,
        webhook_allowed_hosts=frozenset(config["IAS_WEBHOOK_ALLOWED_HOSTS"]),
        webhook_timeout_s=float(config["IAS_WEBHOOK_TIMEOUT_SECONDS"]),
    )


def _message(stored: dict[str, Any]) -> channels.Message:
    return channels.Message(
        subject=stored["subject"],
        body=stored["body"],
        links=tuple((label, url) for label, url in stored.get("links", [])),
        data=stored.get("data", {}),
    )


def deliver(item: Claimed, settings: SendSettings | None = None) -> None:
    """Send one claimed delivery. Raises channels.DeliveryError (or ValueError for a bad target).

    Needs no app context when `settings` are given (the sweep sends from threads)."""
    settings = settings or _send_settings()
    message = _message(item.message)
    if item.channel == DeliveryChannel.EMAIL:
        if not item.email:
            raise channels.DeliveryError("the user has no e-mail address", permanent=True)
        if settings.smtp is None:
            log.info(
                "MAIL_SERVER is not set; e-mail %s to %s: %s / %s",
                item.delivery_id,
                item.email,
                message.subject,
                message.body,
            )
            return
        channels.send_email(settings.smtp, item.email, message, delivery_id=item.delivery_id or None)
        return
    if not item.webhook_url or not item.webhook_active:
        raise channels.DeliveryError("the webhook was removed or switched off", permanent=True)
    fmt = channels.WebhookFormat(item.webhook_format or "generic")
    secret = item.webhook_secret if fmt is channels.WebhookFormat.DINGTALK else None  # only DingTalk signs
    channels.post_webhook(
        item.webhook_url,
        fmt,
        message,
        secret=secret,
        timeout_s=settings.webhook_timeout_s,
        allowed_hosts=settings.webhook_allowed_hosts,
        delivery_id=item.delivery_id or None,
    )


# Each outcome is committed as soon as its message is sent, so a scheduler killed mid-sweep sends at
# most the one message in flight again (docs/contract.md §6: a crash neither loses nor duplicates a reminder).
# On PostgreSQL these small commits skip the wait for the disk flush (synchronous_commit off): the
# outcome is safe once the server has it, whatever happens to the scheduler, and only a crash of the
# database server itself within a fraction of a second could lose it (the message would go once more).
RECORD_BATCH = 1


def _record(owner: str, outcomes: list[dict[str, Any]]) -> None:
    """Write outcomes of rows this owner still holds (a lapsed, re-claimed row is left to its new owner)."""
    if not outcomes:
        return
    table = Delivery.__table__
    for values in outcomes:
        values.setdefault("next_attempt", None)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    db.session.execute(
        sa.update(table)
        .where(
            table.c.id == sa.bindparam("did"),
            table.c.lease_owner == owner,
            table.c.status == DeliveryStatus.SENDING,
        )
        .values(
            status=sa.bindparam("new_status"),
            sent_at=sa.bindparam("sent"),
            last_error=sa.bindparam("error"),
            next_attempt_at=sa.func.coalesce(
                sa.bindparam("next_attempt", type_=table.c.next_attempt_at.type), table.c.next_attempt_at
            ),
            lease_until=None,
            lease_owner=None,
        ),
        outcomes,
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    outcomes.clear()


# Lanes sent side by side: one per organization's webhooks, one for e-mail (one SMTP server).
MAX_LANES = 8


def _send_lane(items: list[Claimed], settings: SendSettings, done: queue.Queue[tuple[Claimed, Any]]) -> None:
    """Send one lane's deliveries in order, handing each outcome (None or the exception) back."""
    for item in items:
        try:
            deliver(item, settings)
        except Exception as exc:
            done.put((item, exc))
        else:
            done.put((item, None))


def send_claimed(items: list[Claimed], owner: str) -> SendReport:
    """Send what this owner claimed, recording each outcome as soon as it is known.

    Deliveries are sent in lanes, one per organization (its webhooks) and one for e-mail, up to
    MAX_LANES side by side: a receiver that answers slowly (each waits at most
    IAS_WEBHOOK_TIMEOUT_SECONDS) holds up its own organization's lane only. Only this thread touches
    the database; a scheduler killed mid-sweep re-sends at most the messages then in flight (one per
    lane), with the same delivery id.
    """
    config = current_app.config
    max_attempts = int(config["IAS_DELIVERY_MAX_ATTEMPTS"])
    backoff = timedelta(seconds=int(config["IAS_DELIVERY_BACKOFF_SECONDS"]))
    settings = _send_settings()
    report = SendReport(claimed=len(items))
    lanes: dict[str, list[Claimed]] = {}
    for item in items:
        lanes.setdefault(item.lane, []).append(item)
    done: queue.Queue[tuple[Claimed, Any]] = queue.Queue()
    outcomes: list[dict[str, Any]] = []
    unexpected: BaseException | None = None
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(lanes), MAX_LANES))) as pool:
        for lane in lanes.values():
            pool.submit(_send_lane, lane, settings, done)
        try:
            for _ in range(len(items)):
                item, exc = done.get()
                if exc is None:
                    outcomes.append(
                        {
                            "did": item.id,
                            "new_status": DeliveryStatus.SENT,
                            "sent": datetime.now(UTC),
                            "error": None,
                        }
                    )
                    report.sent += 1
                elif isinstance(exc, channels.DeliveryError | ValueError):
                    permanent = isinstance(exc, ValueError) or exc.permanent
                    error = f"{type(exc).__name__}: {exc}"[:2000]
                    outcome: dict[str, Any] = {"did": item.id, "sent": None, "error": error}
                    if permanent or item.attempts >= max_attempts:
                        outcome["new_status"] = DeliveryStatus.FAILED
                        report.failed += 1
                        log.warning("Delivery %s failed for good: %s", item.id, error)
                    else:
                        wait = min(backoff * (2 ** (item.attempts - 1)), MAX_BACKOFF)
                        later = getattr(exc, "retry_after_s", None)
                        if later:
                            wait = max(wait, timedelta(seconds=later))
                        outcome["new_status"] = DeliveryStatus.PENDING
                        outcome["next_attempt"] = datetime.now(UTC) + wait
                        report.retrying += 1
                    outcomes.append(outcome)
                elif unexpected is None:  # a bug: its row is left to its lease (sent again later)
                    unexpected = exc
                if len(outcomes) >= RECORD_BATCH:
                    _record(owner, outcomes)
        finally:
            _record(owner, outcomes)  # what was sent before an error in this loop is still recorded
    if unexpected is not None:
        raise unexpected
    return report


@dataclass
class SweepReport:
    queued: QueueReport
    sent: SendReport

    def __bool__(self) -> bool:
        q, s = self.queued, self.sent
        return bool(q.due or q.overdue or q.escalated or s.claimed)

    def __str__(self) -> str:
        q, s = self.queued, self.sent
        return (
            f"reminders queued: {q.due} due, {q.overdue} overdue, {q.escalated} escalated; "
            f"deliveries: {s.claimed} claimed, {s.sent} sent, {s.retrying} to retry, {s.failed} failed"
        )


def sweep(owner: str | None = None, *, today: date | None = None, batch: int = 200) -> SweepReport:
    """One pass: queue the reminders now due, then send the outbox in batches until it is empty."""
    owner = owner or process_owner()
    queued = queue_follow_up_reminders(today)
    db.session.commit()
    total = SendReport()
    while True:
        items = claim(owner, limit=batch)
        if not items:
            break
        report = send_claimed(items, owner)
        for name in ("claimed", "sent", "retrying", "failed"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.sent + report.failed == 0:
            break  # everything claimed is waiting to retry later
    return SweepReport(queued, total)


# ---------------------------------------------------------------------------------------------
# The one active scheduler


def hold_lease(name: str, owner: str, seconds: int) -> bool:
    """Take or renew the named lease for `owner`; False while another live owner holds it."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=seconds)
    table = SchedulerLease.__table__
    renewed = db.session.execute(
        sa.update(table)
        .where(table.c.name == name, sa.or_(table.c.owner == owner, table.c.expires_at < now))
        .values(owner=owner, expires_at=expires)
    )
    if renewed.rowcount == 0:  # type: ignore[attr-defined]
        _insert_ignoring_duplicates(table, [{"name": name, "owner": owner, "expires_at": expires}])
    holder = db.session.scalar(sa.select(table.c.owner).where(table.c.name == name))
    db.session.commit()
    return holder == owner


def release_lease(name: str, owner: str) -> None:
    table = SchedulerLease.__table__
    db.session.execute(sa.delete(table).where(table.c.name == name, table.c.owner == owner))
    db.session.commit()


# ---------------------------------------------------------------------------------------------
# Inbox


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
