"""The outbox: the `Delivery` rows that e-mail and webhooks are sent from, and the claims on them.

Events queue a delivery in the same transaction as the change that caused them (`pending_delivery`,
`insert_ignoring_duplicates`); nothing is sent from a request. A sender then claims due rows with a lease
(`claim`: `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers) and records each outcome
(`record`): sent, to retry at a later time, failed for good, or skipped (an e-mail whose recipient was
deactivated or switched e-mail off since it was queued: not sent, and not a failure). Each row's claim
is renewed just before its message is sent (`renew`): a sender that took long over a batch skips the
rows whose lease lapsed and that another sender took over. A sender killed between claiming and
recording leaves leases that expire; the next claim takes those rows once more. Unique (recipient,
event) keys mean an event never produces a second row.

The claim and each outcome are committed at once, as steps of their own (app/uow.py): other senders
must see the claim, and an outcome must outlive a sender killed a moment later.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app import uow
from app.accounts.models import User
from app.extensions import db
from app.notifications.messages import Composed
from app.notifications.models import Delivery, DeliveryChannel, DeliveryStatus, Webhook


def process_owner() -> str:
    """Names this process in claims and leases (host, pid and a random part: pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def insert_ignoring_duplicates(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One executemany INSERT … ON CONFLICT DO NOTHING (both databases support it)."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    db.session.execute(insert.on_conflict_do_nothing(), rows)


def emails_each_event(person: Any) -> bool:
    """Whether a person (a User, or a row with its columns) is e-mailed each event as it happens:
    active, with an address, e-mail on, and no daily digest instead."""
    return bool(person.active and person.email and person.notify_email and not person.notify_digest)


def pending_delivery(
    channel: DeliveryChannel,
    recipient: str,
    key: str,
    composed: Composed,
    now: datetime | None = None,
    *,
    user_id: int | None = None,
    webhook_id: int | None = None,
) -> dict[str, Any]:
    """An outbox row to insert (`insert_ignoring_duplicates`): `composed` to `recipient`, due now."""
    now = now or datetime.now(UTC)
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
    # When it was first claimed (this claim, or an earlier one): the retry window runs from then.
    first_attempt_at: datetime | None = None
    # Why it is not to be sent at all (its recipient is no longer to be e-mailed), or None.
    skip_reason: str | None = None
    # Deliveries in one lane go one after the other; lanes go side by side (`send_claimed`).
    lane: str = "email"
    delivery_id: str = ""


def _skip_reason(channel: DeliveryChannel, active: bool | None, notify_email: bool | None) -> str | None:
    """Why an e-mail queued for a person is no longer to be sent: they were deactivated, or switched
    e-mail off, since it was queued (an event's e-mail and a digest alike). Read as the row is claimed,
    so the person's choice as it is now decides, not as it was when the event happened."""
    if channel != DeliveryChannel.EMAIL:
        return None
    if active is False:
        return "not sent: the user was deactivated after it was queued"
    if notify_email is False:
        return "not sent: the user switched e-mail notifications off after it was queued"
    return None


def claim(owner: str, *, limit: int = 200, now: datetime | None = None) -> list[Claimed]:
    """Take up to `limit` deliveries that are due (or whose claim lapsed) for `owner`.

    The claim is committed at once (a step of its own): the other schedulers see these rows taken."""
    now = now or datetime.now(UTC)
    lease = timedelta(seconds=int(current_app.config["IAS_DELIVERY_LEASE_SECONDS"]))
    claimable = sa.or_(
        sa.and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
        sa.and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
    )
    with uow.step("outbox claim"):
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
                    first_attempt_at=sa.func.coalesce(
                        Delivery.first_attempt_at, sa.literal(now, Delivery.first_attempt_at.type)
                    ),
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
                    Delivery.first_attempt_at,
                    User.active,
                    User.notify_email,
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
                    first_attempt_at=row[10],
                    skip_reason=_skip_reason(row[1], row[11], row[12]),
                )
                for row in rows
            ]
    return claimed


def renew(owner: str, delivery: int, *, now: datetime | None = None) -> bool:
    """Renew `owner`'s claim on one delivery just before sending it: True if it is still this owner's to
    send (its lease now runs IAS_DELIVERY_LEASE_SECONDS from now), False if it is not (its lease lapsed
    and another sender took it over, perhaps sent it already).

    A batch is claimed at once but sent one message after another, so its last messages may be sent long
    after the claim; without this, a sender whose lease had lapsed would send what its successor sends
    too. One conditional UPDATE, committed at once (it is a claim, seen by the other senders as such):
    of two senders, the one whose claim is on the row wins, whichever commits first."""
    now = now or datetime.now(UTC)
    lease = timedelta(seconds=int(current_app.config["IAS_DELIVERY_LEASE_SECONDS"]))
    table = Delivery.__table__
    with uow.step("outbox claim"):
        renewed = db.session.execute(
            sa.update(table)
            .where(
                table.c.id == delivery, table.c.lease_owner == owner, table.c.status == DeliveryStatus.SENDING
            )
            .values(lease_until=now + lease)
        )
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


def delivery_id(delivery: int) -> str:
    """The delivery's id for receivers: the same on every retry, unique to this installation (it is
    made from IAS_BASE_URL and the outbox row), sent as X-IAS-Delivery-Id, in the e-mail's Message-ID
    and in a generic webhook's payload, so that a receiver can drop a repeat."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{current_app.config['IAS_BASE_URL']}/deliveries/{delivery}"))


# Each outcome is committed as soon as its message is sent, so a scheduler killed mid-sweep sends at
# most the one message in flight again (docs/contract.md §6: a crash neither loses nor duplicates a reminder).
# On PostgreSQL these small commits skip the wait for the disk flush (synchronous_commit off): the
# outcome is safe once the server has it, whatever happens to the scheduler, and only a crash of the
# database server itself within a fraction of a second could lose it (the message would go once more).
RECORD_BATCH = 1


def record(owner: str, outcomes: list[dict[str, Any]]) -> None:
    """Write outcomes of rows this owner still holds (a lapsed, re-claimed row is left to its new owner),
    committed at once, and empty `outcomes`. An outcome: {"did": the row's id, "new_status", "sent": when
    or None, "error": why or None, and for a retry "next_attempt": when}."""
    if not outcomes:
        return
    table = Delivery.__table__
    for values in outcomes:
        values.setdefault("next_attempt", None)
    with uow.step("outbox outcome"):
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
    outcomes.clear()
